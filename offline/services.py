"""The offline store's writes: record, flush on login, deliver to returning visitors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
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

    Idempotent: rows are claimed and moved to ``delivered`` by one statement (``SKIP LOCKED``
    where the database has it) in the transaction that queues their frame, so a second run
    (another tab, a retried task) finds nothing to send. Queries per batch are constant.
    """
    received = routing_services.conversations_assign_waiting(
        site_ids=routing_selectors.sites_served_by(agent_id)
    )
    for other in received:
        if other != agent_id:
            # Someone else online got part of the backlog: push it to them too.
            from offline.tasks import flush_agent

            transaction.on_commit(lambda a=other: flush_agent.delay(a), robust=True)
    delivered = batches = 0
    described: set[uuid.UUID] = set()
    while True:
        batches += 1
        sent, more = _flush_batch(agent_id, batches, described)
        delivered += sent
        if not more:
            return FlushResult(
                assigned=len(received.get(agent_id, [])), delivered=delivered, batches=batches
            )


_CLAIM = """
    UPDATE {offline} SET state = %s, delivered_at = %s
    WHERE id IN (
        SELECT o.id FROM {offline} o JOIN {conversation} c ON c.id = o.conversation_id
        WHERE o.state = %s AND o.audience = %s AND c.assigned_agent_id = %s
        ORDER BY o.created_at, o.id
        LIMIT %s {lock}
    )
    RETURNING message_id, conversation_id, created_at, id
"""


def _claim(agent_id: int, size: int) -> list[tuple[Any, ...]]:
    """Claim the agent's next pending rows in delivery order, marking them delivered."""
    lock = (
        "FOR UPDATE OF o SKIP LOCKED"
        if connection.features.has_select_for_update_skip_locked
        else ""
    )
    sql = _CLAIM.format(
        offline=OfflineMessage._meta.db_table, conversation=Conversation._meta.db_table, lock=lock
    )
    params = [State.DELIVERED, timezone.now(), State.PENDING, Audience.AGENT, agent_id, size]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = sorted(cursor.fetchall(), key=lambda r: (r[2], r[3]))
    # UUIDs come back as UUID objects from PostgreSQL and as hex text from SQLite.
    return [(uuid.UUID(str(m)), uuid.UUID(str(c)), *rest) for m, c, *rest in rows]


@transaction.atomic
def _flush_batch(agent_id: int, batch_no: int, described: set[uuid.UUID]) -> tuple[int, bool]:
    size = settings.OFFLINE_FLUSH_BATCH
    claimed = _claim(agent_id, size)
    rows = {
        r["id"]: r
        for r in Message.objects.filter(pk__in=[c[0] for c in claimed]).values(
            *payloads.MESSAGE_FIELDS
        )
    }
    new_conversations = {c[1] for c in claimed} - described
    described |= new_conversations
    event = {
        "type": "flush",
        "batch": batch_no,
        "final": len(claimed) < size,
        "conversations": selectors.conversation_summaries(new_conversations)
        if new_conversations
        else [],
        "messages": [payloads.message_row(rows[c[0]], audience="agent") for c in claimed],
    }
    events.send_event_on_commit([events.agent_group(agent_id)], event)
    return len(claimed), len(claimed) == size


def offline_mark_delivered_to_visitor(*, conversation: Conversation, up_to_seq: int) -> int:
    """The visitor has been sent their catch-up: their offline messages are delivered."""
    return OfflineMessage.objects.filter(
        conversation=conversation,
        audience=Audience.VISITOR,
        state=State.PENDING,
        message__seq__lte=up_to_seq,
    ).update(state=State.DELIVERED, delivered_at=timezone.now())
