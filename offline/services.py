"""The offline store's writes: record, flush on login, deliver to returning visitors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from helpdesk import events, files, metrics, payloads, selectors
from helpdesk.fields import EncryptedTextField
from helpdesk.models import Agent, Attachment, Conversation, Message
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
    described: set[str] = set()
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
    LIMIT %s
"""
# Table names come from model metadata, never from input.
_CLAIM = "UPDATE {offline} SET state = %s, delivered_at = %s WHERE id IN (" + _PICK + ")"  # noqa: S608
# PostgreSQL: claim and read the messages in one statement. One row more than the chunk is
# picked (and locked, so it stays ours to claim next) to tell whether more are waiting
# without another round trip. Whether a message has files is read here, so the files are
# fetched only for those that do. Read as text, what Python would only turn back into text
# (IDs), and the time in ISO 8601 whatever the DateStyle (JSON's form): Django's loader of
# timestamps was a third of reading 10,000 rows.
_CLAIM_AND_READ = """
    WITH picked AS (
        SELECT o.id, o.created_at FROM {offline} o JOIN {conversation} c ON c.id = o.conversation_id
        WHERE o.state = %s AND o.audience = %s AND c.assigned_agent_id = %s
        ORDER BY o.created_at, o.id
        LIMIT %s FOR UPDATE OF o SKIP LOCKED
    ), claimed AS (
        UPDATE {offline} u SET state = %s, delivered_at = %s
        FROM (SELECT id FROM picked ORDER BY created_at, id LIMIT %s) p WHERE u.id = p.id
        RETURNING u.message_id, u.created_at, u.id
    )
    SELECT m.id::text, m.conversation_id::text, m.seq, m.sender, a.display_name, m.body,
           to_json(m.created_at) #>> '{{}}', m.client_id::text, m.meta,
           EXISTS (SELECT 1 FROM {attachment} f WHERE f.message_id = m.id),
           (SELECT count(*) FROM picked)
    FROM claimed JOIN {message} m ON m.id = claimed.message_id
    LEFT JOIN {agent} a ON a.id = m.agent_id
    ORDER BY claimed.created_at, claimed.id
"""


@dataclass(frozen=True)
class _Claimed:
    rows: list[dict[str, Any]]  # payloads.MESSAGE_FIELDS rows, in delivery order
    with_files: list[Any]  # the IDs of those that carry files
    more: bool  # pending rows remain after these


def _claim(agent_id: int, size: int) -> _Claimed:
    """Claim the agent's next pending rows in delivery order, marking them delivered, and
    return their messages."""
    tables = {
        "offline": OfflineMessage._meta.db_table,
        "conversation": Conversation._meta.db_table,
        "message": Message._meta.db_table,
        "agent": Agent._meta.db_table,
        "attachment": Attachment._meta.db_table,
    }
    now = timezone.now()
    if connection.vendor == "postgresql":
        params: list[Any] = [State.PENDING, Audience.AGENT, agent_id, size + 1]
        params += [State.DELIVERED, now, size]
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_AND_READ.format(**tables), params)
            fetched = cursor.fetchall()
        bodies = cast(EncryptedTextField, Message._meta.get_field("body")).open_many(
            (r[5], r[0]) for r in fetched
        )
        rows, with_files = [], []
        for (*fields, has_files, _), body in zip(fetched, bodies, strict=True):
            fields[5] = body
            fields[6] = datetime.fromisoformat(fields[6])
            rows.append(dict(zip(payloads.MESSAGE_FIELDS, fields, strict=True)))
            if has_files:
                with_files.append(fields[0])
        return _Claimed(rows, with_files, more=bool(fetched) and fetched[0][-1] > size)
    # SQLite: write transactions are serialised (IMMEDIATE), so no row locks are needed, and
    # it has no data-modifying CTEs: claim, then read.
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM.format(**tables) + " RETURNING message_id, created_at, id",
            [State.DELIVERED, now, State.PENDING, Audience.AGENT, agent_id, size],
        )
        order = {uuid.UUID(str(m)): (c, i) for m, c, i in cursor.fetchall()}
    found = Message.objects.filter(pk__in=list(order)).values(*payloads.MESSAGE_FIELDS)
    rows = sorted(found, key=lambda r: order[r["id"]])
    return _Claimed(rows, [r["id"] for r in rows], more=len(rows) == size)


@transaction.atomic
def _flush_chunk(agent_id: int, batches_before: int, described: set[str]) -> tuple[int, int, bool]:
    size = settings.OFFLINE_FLUSH_BATCH
    claimed = _claim(agent_id, settings.OFFLINE_FLUSH_CHUNK)
    metrics.messages_delivered("flush", "agent", len(claimed.rows))
    new_conversations = {str(r["conversation_id"]) for r in claimed.rows} - described
    described |= new_conversations
    summaries = selectors.conversation_summaries(new_conversations)
    shown = [payloads.message_row(r, audience="agent") for r in claimed.rows]
    if claimed.with_files:  # one query for every file of the chunk, however many frames
        having = {str(i) for i in claimed.with_files}
        files.with_attachments([m for m in shown if m["id"] in having], audience="agent")
    frames = [shown[i : i + size] for i in range(0, len(shown), size)] or [[]]
    for n, frame in enumerate(frames, start=1):
        # Each conversation's summary travels with the first frame that carries its messages.
        ids = list(dict.fromkeys(m["conversation_id"] for m in frame))
        event = {
            "type": "flush",
            "batch": batches_before + n,
            "final": not claimed.more and n == len(frames),
            "conversations": [summaries.pop(i) for i in ids if i in summaries],
            "messages": frame,
        }
        events.send_event_on_commit([events.agent_group(agent_id)], event)
    return len(claimed.rows), len(frames), claimed.more


def offline_mark_delivered_to_visitor(*, conversation: Conversation, up_to_seq: int) -> int:
    """The visitor has been sent their catch-up: their offline messages are delivered."""
    return OfflineMessage.objects.filter(
        conversation=conversation,
        audience=Audience.VISITOR,
        state=State.PENDING,
        message__seq__lte=up_to_seq,
    ).update(state=State.DELIVERED, delivered_at=timezone.now())
