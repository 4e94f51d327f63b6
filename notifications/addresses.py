"""Reply addresses: ``reply+<conversation>-<mac>@<INBOUND_EMAIL_DOMAIN>``, the Reply-To of
follow-up emails. The MAC (with our secret key) makes them unguessable; the inbound webhook
(``notifications.inbound``) keeps only replies sent to a valid one."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "helpdesk.reply-address"
_ADDRESS = re.compile(r"^reply\+(?P<conv>[0-9a-f]{32})-(?P<mac>[0-9a-f]{16})@", re.IGNORECASE)


def reply_address(conversation_id: uuid.UUID) -> str | None:
    """The Reply-To of emails about this conversation (None without an inbound domain)."""
    if not settings.INBOUND_EMAIL_DOMAIN:
        return None
    return (
        f"reply+{conversation_id.hex}-{_mac(conversation_id.hex)}@{settings.INBOUND_EMAIL_DOMAIN}"
    )


def conversation_of(address: str) -> str | None:
    """The conversation (hex) a valid reply address names, else None."""
    match = _ADDRESS.match(address)
    if match and constant_time_compare(match["mac"], _mac(match["conv"])):
        return match["conv"]
    return None


def _mac(value: str) -> str:
    return salted_hmac(_SALT, value).hexdigest()[:16]
