"""The hot path: a visitor's next message in a conversation already assigned, stored by one
PostgreSQL statement sent from the event loop (``helpdesk.pgpool``).

``sending.message_send_by_visitor`` takes five statements, in a transaction, on the
process's one database thread, where every message queues behind every other socket's work.
Most messages are not a conversation's first: no routing, no queue, no files. For those this
module writes, in one data-modifying statement (its own transaction):

- the open conversation, locked (a visitor's sends are serialised by it);
- the message at ``last_seq + 1``, body sealed as the model seals it, once per client ID
  (a resend finds the stored one; a resend racing its original meets the unique key);
- its search tokens; the offline row when the agent is not connected;
- the conversation's counters, waiting clock and snooze;

and returns what the ack and the agent's summary need: the row, its unread count and tags,
the visitor. Then the events leave from this loop, in order, and the ack is sent.

Anything else (no open conversation, not assigned or assigned to someone other than the
agent the socket expects, files) writes nothing here and is the caller's cue for the full
path, which does everything. The guarantees are the full path's: persist then notify,
gapless seqs, idempotent client IDs, encryption at rest, the offline store, the rate limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from django.db import connections, models

from helpdesk import events, metrics, payloads, pgpool, ratelimit, search
from helpdesk.dbtrips import database_trip
from helpdesk.fields import EncryptedTextField
from helpdesk.models import Conversation, Message, MessageToken, Tag, Visitor
from helpdesk.selectors import conversation_state
from helpdesk.services.sending import SendResult, after_offline_agent_message
from offline.models import OfflineMessage
from routing import presence

log = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class Expected:
    """What the socket learnt from its last write: the conversation's agent."""

    agent_id: int


# What the agent's summary (``payloads.conversation``, ``conversation_state``) and the
# after-offline check read: the statement returns these, not whole rows (a visitor's pages
# alone can be kilobytes). A field read beyond them would be a query: the tests would fail.
SUMMARY_FIELDS = {
    Conversation: (
        "id", "visitor", "channel", "status", "assigned_agent", "group", "priority",
        "last_seq", "agent_read_seq", "last_visitor_seq", "last_agent_seq",
        "visitor_seen_seq", "visitor_delivered_seq", "waiting_since", "snoozed_until",
        "created_at",
    ),
    Visitor: ("id", "name", "email"),
}  # fmt: skip


def _fields(model: type[models.Model]) -> list[Any]:
    return [model._meta.get_field(name) for name in SUMMARY_FIELDS[model]]


def _columns(model: type[models.Model], alias: str) -> str:
    return ", ".join(f"{alias}.{f.column}" for f in _fields(model))


@cache
def _statement() -> str:
    """Built once from the models' own table and column names (no input is interpolated)."""
    c, m = Conversation._meta.db_table, Message._meta.db_table
    tok, off, v = MessageToken._meta.db_table, OfflineMessage._meta.db_table, Visitor._meta.db_table
    tag, link = Tag._meta.db_table, Conversation.tags.through._meta.db_table
    message_cols = [str(f.column) for f in Message._meta.concrete_fields]
    computed = {"seq": "l.last_seq + 1", "conversation_id": "l.id"}
    values = ", ".join(computed.get(col, f"%({col})s") for col in message_cols)
    tags = (
        "(SELECT COALESCE(json_agg(json_build_object('id', r.id, 'name', r.name, 'color', r.color))"  # noqa: S608
        f"::text, '[]') FROM (SELECT t.id, t.name, t.color FROM {tag} t JOIN {link} k "
        "ON k.tag_id = t.id WHERE k.conversation_id = u.id ORDER BY t.name) r)"
    )
    # Table and column names from the models; every value is a parameter.
    return f"""
WITH locked AS (
    SELECT id, last_seq, assigned_agent_id FROM {c}
    WHERE visitor_id = %(visitor)s AND status = 'open'
    ORDER BY created_at DESC LIMIT 1 FOR UPDATE
), resent AS (
    SELECT sent.id FROM {m} sent JOIN {c} mine ON mine.id = sent.conversation_id
    WHERE mine.visitor_id = %(visitor)s AND sent.sender = 'visitor'
      AND sent.client_id = %(client_id)s
    LIMIT 1
), ins AS (
    INSERT INTO {m} ({", ".join(message_cols)})
    SELECT {values} FROM locked l
    WHERE l.assigned_agent_id = %(agent)s AND NOT EXISTS (SELECT 1 FROM resent)
    ON CONFLICT DO NOTHING
    RETURNING id, conversation_id, seq
), tokens AS (
    INSERT INTO {tok} (token, message_id, conversation_id)
    SELECT DISTINCT t, ins.id, ins.conversation_id FROM ins, unnest(%(tokens)s::text[]) t
), kept AS (
    INSERT INTO {off} (message_id, conversation_id, audience, state, created_at)
    SELECT ins.id, ins.conversation_id, 'agent', 'pending', %(created_at)s FROM ins
    WHERE %(offline)s
), u AS (
    UPDATE {c} c SET last_seq = ins.seq, last_message_at = %(created_at)s,
        last_visitor_seq = ins.seq,
        first_visitor_at = COALESCE(c.first_visitor_at, %(created_at)s),
        waiting_since = COALESCE(c.waiting_since, %(created_at)s), snoozed_until = NULL
    FROM ins WHERE c.id = ins.conversation_id
    RETURNING c.*
)
SELECT (SELECT id FROM resent), ins.seq,
    (SELECT count(*) FROM {m} x WHERE x.conversation_id = u.id AND x.sender = 'visitor'
        AND x.seq > u.agent_read_seq),
    {tags}, {_columns(Conversation, "u")}, {_columns(Visitor, "v")}
FROM (SELECT 1) one
LEFT JOIN ins ON true LEFT JOIN u ON true LEFT JOIN {v} v ON v.id = u.visitor_id
"""  # noqa: S608


def _instance(model: type[M], values: tuple[Any, ...]) -> M:
    """A model instance (``SUMMARY_FIELDS`` loaded) from raw values, converted as the ORM
    converts them."""
    fields = _fields(model)
    connection = connections["default"]
    converted = []
    for f, value in zip(fields, values, strict=True):
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC)
        elif isinstance(f, EncryptedTextField):
            value = f.from_db_value(value, None, connection)
        converted.append(value)
    return model.from_db("default", [f.attname for f in fields], converted)


async def visitor_message_append(
    *, visitor: Visitor, expected: Expected, client_id: uuid.UUID, body: str
) -> SendResult | None:
    """Store a visitor's message in one statement when this path's case holds; ``None``:
    nothing was written (not counted either), use the full path. Raises
    ``ratelimit.RateLimited``, and what psycopg raises (the client resends)."""
    # The visitor's rate, counted, and whether the agent is connected: Redis from the loop,
    # both at once (no thread, one round trip's wait).
    _, online = await asyncio.gather(
        ratelimit.hit_from_loop("visitor_messages", visitor.id.hex, what="messages"),
        presence.is_online_from_loop("agent", expected.agent_id),
    )
    message = Message(
        id=uuid.uuid4(), sender=Message.Sender.VISITOR, body=body, client_id=client_id
    )
    connection = connections["default"]
    params: dict[str, Any] = {
        str(f.column): f.get_db_prep_save(f.pre_save(message, True), connection)  # sealed, stamped
        for f in Message._meta.concrete_fields
        if f.column not in ("seq", "conversation_id")
    }
    params |= {
        "visitor": visitor.id,
        "agent": expected.agent_id,
        "tokens": search.tokens(body),
        "offline": not online,
    }
    rows = await pgpool.pool().run(_statement(), params)
    resent, seq, unread, tags, *rest = rows[0]
    if resent is not None or seq is None:
        return None  # the full path answers a resend and every other case
    n = len(SUMMARY_FIELDS[Conversation])
    conversation = _instance(Conversation, tuple(rest[:n]))
    conversation.visitor = _instance(Visitor, tuple(rest[n:]))
    message.conversation, message.seq, message.body = conversation, seq, body
    conversation.tags_json = tags  # type: ignore[attr-defined]
    conversation.state = conversation_state(conversation)  # type: ignore[attr-defined]
    conversation.unread = unread + 1  # type: ignore[attr-defined]  # counted before this one
    result = SendResult(message, created=True)
    events.send_event_from_loop(
        [events.visitor_group(visitor.id)],
        {"type": "message", "message": result.payload(audience="visitor")},
    )
    events.send_event_from_loop(
        [events.agent_group(expected.agent_id)],
        {
            "type": "message",
            "message": result.payload(audience="agent"),
            "conversation": payloads.conversation(conversation, last=message),
        },
    )
    metrics.message_stored_committed(conversation.channel, "visitor")
    if not online:
        _close_login_race(conversation)
    return result


_tasks: set[asyncio.Task[Any]] = set()


def _close_login_race(conversation: Conversation) -> None:
    """As the full path does after an offline message, in the background (the message is
    committed whatever happens there)."""

    async def check() -> None:
        try:
            await database_trip(after_offline_agent_message)(conversation)
        except Exception:
            log.exception("after an offline message in %s", conversation.pk)

    task = asyncio.get_running_loop().create_task(check())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
