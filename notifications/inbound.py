"""Email in: a visitor answering a follow-up email, and providers' delivery reports.

Both arrive through django-anymail's webhooks (``/email/<provider>/inbound/`` and
``/email/<provider>/tracking/``), which verify the provider's signature before these
receivers run. A reply must come to the conversation's own reply address (``reply+<id>-<mac>``,
the MAC made with our secret) and from the visitor's confirmed address; anything else is
dropped and logged.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from anymail.signals import EventType, inbound, tracking
from django.conf import settings
from django.dispatch import receiver

from helpdesk import services as helpdesk_services
from helpdesk.models import Conversation, Visitor
from notifications.addresses import conversation_of
from notifications.models import Notification

log = logging.getLogger(__name__)
# Where the quoted original starts in common mail clients' replies.
_QUOTE_START = re.compile(
    r"^(>|On .{4,200} wrote:$|-{2,} ?Original Message ?-{2,}|在 .{2,200}写道[:\uff1a]$)",
    re.MULTILINE,
)


def strip_quoted(text: str) -> str:
    text = text.replace("\r\n", "\n")
    match = _QUOTE_START.search(text)
    return (text[: match.start()] if match else text).strip()


@receiver(inbound)
def on_inbound(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    message = event.message
    recipients = [message.envelope_recipient or ""] + [a.addr_spec for a in message.to or []]
    conversation_id = next((c for c in map(conversation_of, recipients) if c), None)
    if conversation_id is None:
        log.warning("inbound email to %s: no valid reply address; dropped", recipients)
        return
    conversation = (
        Conversation.objects.select_related("visitor").filter(pk=uuid.UUID(conversation_id)).first()
    )
    visitor: Visitor | None = conversation.visitor if conversation else None
    sender_address = (message.from_email.addr_spec if message.from_email else "").lower()
    if visitor is None or not visitor.email_verified_at or visitor.email.lower() != sender_address:
        log.warning(
            "inbound email from %s for %s: not the visitor's confirmed address; dropped",
            sender_address,
            conversation_id,
        )
        return
    body = strip_quoted(message.stripped_text or message.text or "")
    if not body:
        return
    # Providers retry webhooks: the email's own Message-ID makes the message idempotent.
    key = message.get("Message-ID") or f"{esp_name}:{event.event_id}"
    helpdesk_services.message_send_by_visitor(
        visitor=visitor,
        client_id=uuid.uuid5(uuid.NAMESPACE_URL, f"email:{key}"),
        body=body[: settings.MESSAGE_MAX_CHARS],
    )


@receiver(tracking)
def on_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """A bounce (or a complaint) marks the record, and a visitor's address unconfirmed."""
    if event.event_type not in {EventType.BOUNCED, EventType.REJECTED, EventType.COMPLAINED}:
        return
    ids = {event.message_id, f"<{event.message_id}>", (event.message_id or "").strip("<>")}
    rows = Notification.objects.filter(provider_message_id__in=[i for i in ids if i])
    rows.update(error=f"{event.event_type}: {event.description or event.mta_response or ''}"[:2000])
    visitors = [
        r.split(":", 1)[1]
        for r in rows.values_list("recipient", flat=True)
        if r.startswith("visitor:")
    ]
    Visitor.objects.filter(pk__in=visitors).update(email_verified_at=None)
