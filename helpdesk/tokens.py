"""Visitor tokens: signed, expiring, bound to one site and one visitor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

_SALT = "helpdesk.visitor-token"


@dataclass(frozen=True)
class VisitorClaim:
    site_id: uuid.UUID
    visitor_id: uuid.UUID


class InvalidToken(Exception):
    """The token is forged, expired or malformed."""


def issue(*, site_id: uuid.UUID, visitor_id: uuid.UUID) -> str:
    return signing.dumps({"s": site_id.hex, "v": visitor_id.hex}, salt=_SALT, compress=False)


def read(token: str) -> VisitorClaim:
    max_age = settings.VISITOR_TOKEN_MAX_AGE_DAYS * 86400
    try:
        data = signing.loads(token, salt=_SALT, max_age=max_age)
        return VisitorClaim(site_id=uuid.UUID(data["s"]), visitor_id=uuid.UUID(data["v"]))
    except signing.SignatureExpired as exc:
        raise InvalidToken("The visitor token has expired.") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidToken("The visitor token is not valid.") from exc
