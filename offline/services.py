"""The offline store's writes: record, flush on login, deliver to returning visitors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from helpdesk import crypto, events, files, metrics, payloads, selectors
from helpdesk.models import Agent, Conversation, Message
from offline.models import OfflineMessage

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


@metrics.flush_timed
def offline_flush_for_agent(*, agent_id: int) -> FlushResult:
    """Push everything waiting for the agent (of the conversations assigned to them), in
    delivery order. Taking waiting work first is the caller's (``offline.tasks``), so this
    app never calls routing.

    Idempotent: rows are claimed and moved to ``delivered`` by one statement (``SKIP LOCKED``
    where the database has it) in the transaction that queues their frame, so a second run
    (another tab, a retried task) finds nothing to send. Queries per batch are constant.
    """
    delivered = batches = 0
    described: set[uuid.UUID] = set()
    while True:
        sent, frames, more = _flush_chunk(agent_id, batches, described)
        delivered += sent
        batches += frames
        if not more:
            return FlushResult(assigned=0, delivered=delivered, batches=batches)


_PICK = """
    SELECT o.id FROM {offline} o JOIN {conversation} c ON c.id = o.conversation_id
    WHERE o.state = %s AND o.audience = %s AND c.assigned_agent_id = %s
    ORDER BY o.created_at, o.id
    LIMIT %s {lock}
"""
# Table names come from model metadata, never from input.
_CLAIM = "UPDATE {offline} SET state = %s, delivered_at = %s WHERE id IN (" + _PICK + ")"  # noqa: S608
# PostgreSQL: claim and read the messages in one statement.
_CLAIM_AND_READ = """
    WITH claimed AS ({claim} RETURNING message_id, created_at, id)
    SELECT m.id, m.conversation_id, m.seq, m.sender, a.display_name, m.body, m.created_at,
           m.client_id, m.meta
    FROM claimed JOIN {message} m ON m.id = claimed.message_id
    LEFT JOIN {agent} a ON a.id = m.agent_id
    ORDER BY claimed.created_at, claimed.id
"""


def _claim(agent_id: int, size: int) -> list[dict[str, Any]]:
    """Claim the agent's next pending rows in delivery order, marking them delivered, and
    return their messages as ``payloads.MESSAGE_FIELDS`` rows, in that order."""
    tables = {
        "offline": OfflineMessage._meta.db_table,
        "conversation": Conversation._meta.db_table,
        "message": Message._meta.db_table,
        "agent": Agent._meta.db_table,
    }
    params: list[Any] = [
        State.DELIVERED,
        timezone.now(),
        State.PENDING,
        Audience.AGENT,
        agent_id,
        size,
    ]
    if connection.vendor == "postgresql":
        claim = _CLAIM.format(lock="FOR UPDATE OF o SKIP LOCKED", **tables)
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_AND_READ.format(claim=claim, **tables), params)
            rows = [dict(zip(payloads.MESSAGE_FIELDS, r, strict=True)) for r in cursor.fetchall()]
            for row in rows:
                row["body"] = crypto.Sealed(row["body"])  # as stored: opened when sent
            return rows
    # SQLite: write transactions are serialised (IMMEDIATE), so no row locks are needed, and
    # it has no data-modifying CTEs: claim, then read.
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM.format(lock="", **tables) + " RETURNING message_id, created_at, id", params
        )
        order = {uuid.UUID(str(m)): (c, i) for m, c, i in cursor.fetchall()}
    rows = Message.objects.filter(pk__in=list(order)).values(*payloads.MESSAGE_FIELDS)
    return sorted(rows, key=lambda r: order[r["id"]])


# Rows claimed per transaction: one claim, one message read and one summary read serve up to
# this many messages, sent as frames of OFFLINE_FLUSH_BATCH.
FLUSH_CHUNK = 10_000


@transaction.atomic
def _flush_chunk(
    agent_id: int, batches_before: int, described: set[uuid.UUID]
) -> tuple[int, int, bool]:
    size = settings.OFFLINE_FLUSH_BATCH
    claimed = _claim(agent_id, FLUSH_CHUNK)
    metrics.messages_delivered("flush", "agent", len(claimed))
    more = len(claimed) == FLUSH_CHUNK
    new_conversations = {r["conversation_id"] for r in claimed} - described
    described |= new_conversations
    summaries = {
        s["id"]: s
        for s in (selectors.conversation_summaries(new_conversations) if new_conversations else [])
    }
    # One query for every file of the chunk, however many frames it makes.
    shown = files.with_attachments(
        [payloads.message_row(r, audience="agent") for r in claimed], audience="agent"
    )
    frames = [shown[i : i + size] for i in range(0, len(shown), size)] or [[]]
    for n, frame in enumerate(frames, start=1):
        # Each conversation's summary travels with the first frame that carries its messages.
        ids = list(dict.fromkeys(m["conversation_id"] for m in frame))
        event = {
            "type": "flush",
            "batch": batches_before + n,
            "final": not more and n == len(frames),
            "conversations": [summaries.pop(i) for i in ids if i in summaries],
            "messages": frame,
        }
        events.send_event_on_commit([events.agent_group(agent_id)], event)
    return len(claimed), len(frames), more


def offline_mark_delivered_to_visitor(*, conversation: Conversation, up_to_seq: int) -> int:
    """The visitor has been sent their catch-up: their offline messages are delivered."""
    return OfflineMessage.objects.filter(
        conversation=conversation,
        audience=Audience.VISITOR,
        state=State.PENDING,
        message__seq__lte=up_to_seq,
    ).update(state=State.DELIVERED, delivered_at=timezone.now())
