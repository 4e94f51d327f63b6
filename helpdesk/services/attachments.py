"""Files both ways: an upload is checked and stored encrypted through Django's storage API
(``STORAGES["attachments"]``: the filesystem, or S3-compatible object storage); the message
that names it claims it under the message's own locks, so a resend never attaches a file
twice and nobody sends another person's upload. Reading and serving: ``helpdesk.files``.

An upload comes first (HTTP, multipart: sockets carry frames of 64 KiB), then the message
(``attachment_ids``).
"""

from __future__ import annotations

import logging
import uuid

from django.core.files.base import ContentFile

from helpdesk import crypto
from helpdesk.files import Upload, aad, check_upload, image_size, storage, thumbnail
from helpdesk.models import Agent, Attachment, Conversation, Message, Visitor

log = logging.getLogger(__name__)


class NotYours(Exception):
    """An attachment ID that is not an unsent upload of this sender (another person's,
    another conversation's, already sent, or none)."""


def attachment_upload(
    *,
    upload: Upload,
    visitor: Visitor | None = None,
    agent: Agent | None = None,
    conversation: Conversation | None = None,
) -> Attachment:
    """Store an upload (encrypted, with a thumbnail for images) for its sender to send.
    The caller checked the file (``check_upload``) and that ``agent`` may reply to
    ``conversation``."""
    kind = check_upload(upload)
    attachment = Attachment(
        visitor=visitor,
        agent=agent,
        conversation=conversation,
        uploaded_by=Message.Sender.VISITOR if visitor else Message.Sender.AGENT,
        name=(upload.name or "file").replace("/", "_")[-200:],
        content_type=kind,
        size=len(upload.data),
    )
    if kind.startswith("image/"):
        attachment.width, attachment.height = image_size(upload.data) or (None, None)
    prefix = f"attachments/{attachment.pk.hex[:2]}/{attachment.pk.hex}"
    attachment.file = storage().save(
        prefix, ContentFile(crypto.seal_bytes(upload.data, aad(attachment.pk, "file")))
    )
    thumb = thumbnail(upload.data) if kind.startswith("image/") else None
    if thumb is not None:
        attachment.thumbnail = storage().save(
            f"{prefix}-thumb", ContentFile(crypto.seal_bytes(thumb, aad(attachment.pk, "thumb")))
        )
    try:
        attachment.save()
    except Exception:
        attachment_files_delete(attachment)
        raise
    return attachment


def attachments_claim(
    *,
    message: Message,
    attachment_ids: list[uuid.UUID],
    visitor: Visitor | None = None,
    agent: Agent | None = None,
) -> list[Attachment]:
    """Give ``message`` the uploads it names: each an unsent upload of this sender (the
    visitor's own, or the agent's for this conversation). ``NotYours`` otherwise; the
    caller's transaction then rolls back the message too."""
    if not attachment_ids:
        return []
    owned = Attachment.objects.select_for_update().filter(
        pk__in=attachment_ids, message__isnull=True
    )
    if visitor is not None:
        owned = owned.filter(visitor=visitor)
    else:
        owned = owned.filter(agent=agent, conversation_id=message.conversation_id)
    found = list(owned)
    if len(found) != len(set(attachment_ids)):
        raise NotYours("No such attachment of yours to send.")
    Attachment.objects.filter(pk__in=[a.pk for a in found]).update(
        message=message, conversation_id=message.conversation_id
    )
    for a in found:
        a.message_id, a.conversation_id = message.pk, message.conversation_id
    return found


def attachment_files_delete(attachment: Attachment) -> None:
    """Remove the stored bytes (after the row is gone, or when its save failed)."""
    for name in (attachment.file, attachment.thumbnail):
        if name:
            try:
                storage().delete(name)
            except Exception:
                log.exception("could not delete stored file %s", name)
