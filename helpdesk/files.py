"""Attachments as readers see them: where the encrypted bytes are stored, the short-lived
signed URLs that serve them, and the protocol's attachment objects. Writes (upload, claim)
are in ``helpdesk.services.attachments``.
"""

from __future__ import annotations

import io
import logging
import mimetypes
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.storage import storages
from PIL import Image, UnidentifiedImageError

from helpdesk import crypto
from helpdesk.models import Attachment

log = logging.getLogger(__name__)
_URL_SALT = "helpdesk.attachment-url"
THUMBNAIL_PX = 320


class Refused(Exception):
    """A file that may not be stored: ``code`` is ``file_too_large`` or
    ``unsupported_file``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass(frozen=True)
class Upload:
    name: str
    content_type: str
    data: bytes


def storage() -> Any:
    return storages["attachments"]


def limits() -> dict[str, Any]:
    """What clients may check before uploading (the server checks again)."""
    return {
        "max_bytes": settings.ATTACHMENT_MAX_BYTES,
        "types": list(settings.ATTACHMENT_TYPES),
        "per_message": settings.ATTACHMENTS_PER_MESSAGE,
    }


def check_upload(upload: Upload) -> str:
    """The content type to store, or ``Refused``. The declared type must be allowed, agree
    with the name's extension when it has one, and an image must open as one."""
    if len(upload.data) > settings.ATTACHMENT_MAX_BYTES:
        limit = settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)
        raise Refused("file_too_large", f"A file can be at most {limit} MB.")
    if not upload.data:
        raise Refused("unsupported_file", "The file is empty.")
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    guessed = mimetypes.guess_type(upload.name)[0]
    kind = declared or guessed or ""
    if declared in ("", "application/octet-stream") and guessed:
        kind = guessed
    if not _allowed(kind) or (guessed and guessed != kind and _allowed(guessed) is False):
        raise Refused("unsupported_file", f"Files of type {kind or 'unknown'} are not accepted.")
    if kind.startswith("image/") and image_size(upload.data) is None:
        raise Refused("unsupported_file", "The image could not be read.")
    return kind


def _allowed(kind: str) -> bool:
    for allowed in settings.ATTACHMENT_TYPES:
        if kind == allowed or (allowed.endswith("/*") and kind.startswith(allowed[:-1])):
            return True
    return False


def image_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def thumbnail(data: bytes) -> bytes | None:
    """A JPEG (or PNG, with transparency) of at most 320 px a side; None if it fails."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            out = io.BytesIO()
            if image.mode in ("RGBA", "LA", "P"):
                image.save(out, format="PNG", optimize=True)
            else:
                image.convert("RGB").save(out, format="JPEG", quality=80)
            return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError):
        log.warning("thumbnail failed", exc_info=True)
        return None


def aad(attachment_id: uuid.UUID, part: str) -> str:
    return f"helpdesk.attachment.{part}:{attachment_id}"


def url_for(attachment: Attachment, *, audience: str, thumbnail: bool = False) -> str:
    """A short-lived signed URL: ``visitor`` URLs work for anyone holding them until they
    expire (a picture in the widget has no header to carry a token); ``staff`` URLs also
    need a signed-in person who may see the conversation."""
    token = signing.dumps(
        {"a": attachment.pk.hex, "k": "v" if audience == "visitor" else "s", "t": int(thumbnail)},
        salt=_URL_SALT,
        compress=False,
    )
    return f"/files/{token}/"


@dataclass(frozen=True)
class Grant:
    attachment_id: uuid.UUID
    staff: bool
    thumbnail: bool


def grant_of(token: str) -> Grant | None:
    """What a signed URL grants, or None when it is forged or expired."""
    try:
        data = signing.loads(token, salt=_URL_SALT, max_age=settings.ATTACHMENT_URL_SECONDS)
        return Grant(uuid.UUID(data["a"]), data["k"] == "s", bool(data.get("t")))
    except (signing.BadSignature, KeyError, ValueError, TypeError):
        return None


def attachment_bytes(attachment: Attachment, *, thumbnail: bool = False) -> bytes:
    name = attachment.thumbnail if thumbnail and attachment.thumbnail else attachment.file
    part = "thumb" if thumbnail and attachment.thumbnail else "file"
    with storage().open(name, "rb") as f:
        return crypto.unseal_bytes(f.read(), aad(attachment.pk, part))


def payload(attachment: Attachment, *, audience: str) -> dict[str, Any]:
    """The protocol's attachment object (docs/protocol.md)."""
    return {
        "id": str(attachment.pk),
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
        "url": url_for(attachment, audience=audience),
        "thumbnail_url": url_for(attachment, audience=audience, thumbnail=True)
        if attachment.thumbnail
        else None,
    }


def payloads_of(attachments: list[Attachment], audience: str) -> list[dict[str, Any]]:
    return [payload(a, audience=audience) for a in attachments]


def payloads_by_message(message_ids: list[Any], *, audience: str) -> dict[str, list[dict]]:
    """Every attachment of these messages, by message ID (one query)."""
    found: dict[str, list[dict]] = {}
    if not message_ids:
        return found
    for a in Attachment.objects.filter(message_id__in=message_ids).order_by("created_at"):
        found.setdefault(str(a.message_id), []).append(payload(a, audience=audience))
    return found


def with_attachments(messages: list[dict[str, Any]], *, audience: str) -> list[dict[str, Any]]:
    """Message payloads, each with its ``attachments`` (one query for all of them)."""
    found = payloads_by_message([m["id"] for m in messages], audience=audience)
    for m in messages:
        m["attachments"] = found.get(m["id"], [])
    return messages
