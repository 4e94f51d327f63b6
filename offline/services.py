"""The offline store's writes: record, flush on login, deliver to returning visitors."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from helpdesk import events, payloads, selectors
from helpdesk.models import Conversation, Message
from offline.models import OfflineMessage
from routing import selectors as routing_selectors
from routing import services as routing_services

Audience = OfflineMessage.Audience
State = OfflineMessage.State


def offline_record(*, message: Message, audience: str) -> OfflineMessage:
    """Keep a message for a recipient who is not connected. Call inside the send transaction."""
    return OfflineMessage.objects.create(
        message=message,
        conversation_id=message.conversation_id,
        audience=audience,
        created_at=message.created_at,
    )


@dataclass(frozen=True)
class FlushResult:
    assigned: int
    delivered: int
    batches: int


def offline_flush_for_agent(*, agent_id: int) -> FlushResult:
    """An agent came online: assign them waiting work, then push what waits for them.

    Idempotent: rows are claimed with ``SKIP LOCKED`` and moved to ``delivered`` in the same
    transaction that queues their frame, so a second run (another tab, a retried task) finds
    nothing to send. Queries per batch are constant.
    """
    received = routing_services.conversations_assign_waiting(
        site_ids=routing_selectors.sites_served_by(agent_id)
    )
    for other in received:
        if other != agent_id:
            # Someone else online got part of the backlog: push it to them too.
            from offline.tasks import flush_agent

            transaction.on_commit(lambda a=other: flush_agent.delay(a))
    delivered = batches = 0
    while True:
        batches += 1
        sent, more = _flush_batch(agent_id, batches)
        delivered += sent
        if not more:
            return FlushResult(
                assigned=len(received.get(agent_id, [])), delivered=delivered, batches=batches
            )


@transaction.atomic
def _flush_batch(agent_id: int, batch_no: int) -> tuple[int, bool]:
    size = settings.OFFLINE_FLUSH_BATCH
    rows = list(
        OfflineMessage.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            audience=Audience.AGENT,
            state=State.PENDING,
            conversation__assigned_agent_id=agent_id,
        )
        .select_related("message__agent")
        .order_by("created_at", "pk")[: size + 1]
    )
    more = len(rows) > size
    rows = rows[:size]
    if rows:
        OfflineMessage.objects.filter(pk__in=[r.pk for r in rows]).update(
            state=State.DELIVERED, delivered_at=timezone.now()
        )
    conversation_ids = {r.conversation_id for r in rows}
    event = {
        "type": "flush",
        "batch": batch_no,
        "final": not more,
        "conversations": selectors.conversation_summaries(conversation_ids) if rows else [],
        "messages": [payloads.message(r.message, audience="agent") for r in rows],
    }
    events.send_event_on_commit([events.agent_group(agent_id)], event)
    return len(rows), more


def offline_mark_delivered_to_visitor(*, conversation: Conversation, up_to_seq: int) -> int:
    """The visitor has been sent their catch-up: their offline messages are delivered."""
    return OfflineMessage.objects.filter(
        conversation=conversation,
        audience=Audience.VISITOR,
        state=State.PENDING,
        message__seq__lte=up_to_seq,
    ).update(state=State.DELIVERED, delivered_at=timezone.now())
