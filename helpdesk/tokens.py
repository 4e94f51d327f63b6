"""Visitor tokens: signed, expiring, bound to one site and one visitor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

_SALT = "helpdesk.visitor-token"


@dataclass(frozen=True)
class VisitorClaim:
    site_id: uuid.UUID
    visitor_id: uuid.UUID
    # A pending token (HTTP hello, no visitor row yet): the hello it stands for, which the
    # visitor's first write creates the row with (``visitors.visitor_create``).
    pending: dict[str, Any] | None = None


class InvalidToken(Exception):
    """The token is forged, expired or malformed."""


def issue(*, site_id: uuid.UUID, visitor_id: uuid.UUID) -> str:
    return signing.dumps({"s": site_id.hex, "v": visitor_id.hex}, salt=_SALT, compress=False)


def issue_pending(*, site_id: uuid.UUID, visitor_id: uuid.UUID, hello: dict[str, Any]) -> str:
    """A token for the visitor ``visitor_id`` will be once they write (signed, so the hello
    it carries is the one the server saw)."""
    data = {"s": site_id.hex, "v": visitor_id.hex, "p": hello}
    return signing.dumps(data, salt=_SALT, compress=True)


def read(token: str) -> VisitorClaim:
    max_age = settings.VISITOR_TOKEN_MAX_AGE_DAYS * 86400
    try:
        data = signing.loads(token, salt=_SALT, max_age=max_age)
        pending = data.get("p")
        return VisitorClaim(
            site_id=uuid.UUID(data["s"]),
            visitor_id=uuid.UUID(data["v"]),
            pending=pending if isinstance(pending, dict) else None,
        )
    except signing.SignatureExpired as exc:
        raise InvalidToken("The visitor token has expired.") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidToken("The visitor token is not valid.") from exc
