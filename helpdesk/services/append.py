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

Group commit (``Batcher``): the statement takes arrays, one element per message. While all
of the loop's statements are in flight, messages that arrive wait and go together in the
next one, so under load one round trip and one commit serve many; a message on a quiet
server goes at once, with no timer.

Anything else (no open conversation, not assigned or assigned to someone other than the
agent the socket expects, files) writes nothing here and is the caller's cue for the full
path, which does everything. The guarantees are the full path's: persist then notify,
gapless seqs, idempotent client IDs, encryption at rest, the offline store, the rate limit.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from helpdesk import events, metrics, payloads, pgpool, ratelimit, rows, search
from helpdesk.dbtrips import database_trip
from helpdesk.models import Conversation, Message, MessageToken, Tag, Visitor
from helpdesk.selectors import conversation_state
from helpdesk.services.sending import SendResult, after_offline_agent_message
from offline.models import OfflineMessage
from routing import presence

log = logging.getLogger(__name__)

_tasks: set[asyncio.Task[Any]] = set()  # the statements and checks under way, held


# Messages one statement stores at most (a batch waits only while every statement of the
# loop is in flight).
BATCH_LIMIT = 64


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


@cache
def _fields(model: type[models.Model]) -> tuple[Any, ...]:
    """Looked up once per process, not per message."""
    return tuple(model._meta.get_field(name) for name in SUMMARY_FIELDS[model])


def _columns(model: type[models.Model], alias: str) -> str:
    return ", ".join(f"{alias}.{f.column}" for f in _fields(model))


# The message's columns: given per message, the same for every visitor message, or
# computed under the lock. A column added to the model must be placed here (the statement
# refuses to build otherwise, and every test of this path fails).
_GIVEN = {"id": "uuid", "body": "text", "client_id": "uuid", "created_at": "timestamptz"}
_SAME = {"sender": "'visitor'", "agent_id": "NULL", "answered_wait": "NULL", "meta": "'{}'"}
_UNDER_LOCK = {"conversation_id": "l.conversation_id", "seq": "l.last_seq + 1"}


@cache
def _statement() -> str:
    """Built once from the models' own table and column names (no input is interpolated).
    Every input is an array with one element per message: one statement stores a batch."""
    c, m = Conversation._meta.db_table, Message._meta.db_table
    tok, off, v = MessageToken._meta.db_table, OfflineMessage._meta.db_table, Visitor._meta.db_table
    tag, link = Tag._meta.db_table, Conversation.tags.through._meta.db_table
    columns = [str(f.column) for f in Message._meta.concrete_fields]
    placed = {**_GIVEN, **_SAME, **_UNDER_LOCK}
    if set(columns) != set(placed):
        raise ImproperlyConfigured(
            f"append: place the message columns {set(columns) ^ set(placed)}"
        )
    values = ", ".join(
        f"l.{col}" if col in _GIVEN else _SAME.get(col) or _UNDER_LOCK[col] for col in columns
    )
    arrays = ", ".join(f"%({col})s::{kind}[]" for col, kind in _GIVEN.items())
    tags = (
        "(SELECT COALESCE(json_agg(json_build_object('id', r.id, 'name', r.name, 'color', r.color))"  # noqa: S608
        f"::text, '[]') FROM (SELECT t.id, t.name, t.color FROM {tag} t JOIN {link} k "
        "ON k.tag_id = t.id WHERE k.conversation_id = u.id ORDER BY t.name) r)"
    )
    # Table and column names from the models; every value is a parameter. The conversations
    # are locked in the visitors' order (the caller sorts), so two batches can't deadlock.
    return f"""
WITH input AS (
    SELECT * FROM unnest(%(n)s::int[], %(visitor)s::uuid[], %(agent)s::bigint[],
        %(offline)s::bool[], {arrays})
        AS i(n, visitor, agent, offline, {", ".join(_GIVEN)})
), locked AS (
    SELECT i.*, c.id AS conversation_id, c.last_seq, c.assigned_agent_id FROM input i
    CROSS JOIN LATERAL (
        SELECT id, last_seq, assigned_agent_id FROM {c}
        WHERE visitor_id = i.visitor AND status = 'open'
        ORDER BY created_at DESC LIMIT 1 FOR UPDATE
    ) c
), resent AS (
    SELECT i.n, sent.id FROM input i
    CROSS JOIN LATERAL (
        SELECT sent.id FROM {m} sent JOIN {c} mine ON mine.id = sent.conversation_id
        WHERE mine.visitor_id = i.visitor AND sent.sender = 'visitor'
          AND sent.client_id = i.client_id
        LIMIT 1
    ) sent
), ins AS (
    INSERT INTO {m} ({", ".join(columns)})
    SELECT {values} FROM locked l
    WHERE l.assigned_agent_id = l.agent AND NOT EXISTS (SELECT 1 FROM resent r WHERE r.n = l.n)
    ON CONFLICT DO NOTHING
    RETURNING id, conversation_id, seq
), tokens AS (
    INSERT INTO {tok} (token, message_id, conversation_id)
    SELECT DISTINCT t.token, ins.id, ins.conversation_id
    FROM unnest(%(token_of)s::uuid[], %(token)s::text[]) t(id, token) JOIN ins ON ins.id = t.id
), kept AS (
    INSERT INTO {off} (message_id, conversation_id, audience, state, created_at)
    SELECT ins.id, ins.conversation_id, 'agent', 'pending', i.created_at
    FROM ins JOIN input i ON i.id = ins.id WHERE i.offline
), u AS (
    UPDATE {c} c SET last_seq = x.seq, last_message_at = x.created_at, last_visitor_seq = x.seq,
        first_visitor_at = COALESCE(c.first_visitor_at, x.created_at),
        waiting_since = COALESCE(c.waiting_since, x.created_at), snoozed_until = NULL
    FROM (SELECT ins.conversation_id, ins.seq, i.created_at FROM ins JOIN input i ON i.id = ins.id) x
    WHERE c.id = x.conversation_id
    RETURNING c.*
)
SELECT i.n, r.id, ins.seq,
    (SELECT count(*) FROM {m} x WHERE x.conversation_id = u.id AND x.sender = 'visitor'
        AND x.seq > u.agent_read_seq),
    {tags}, {_columns(Conversation, "u")}, {_columns(Visitor, "v")}
FROM input i
LEFT JOIN resent r ON r.n = i.n LEFT JOIN ins ON ins.id = i.id
LEFT JOIN u ON u.id = ins.conversation_id LEFT JOIN {v} v ON v.id = u.visitor_id
ORDER BY i.n
"""  # noqa: S608


@dataclass
class _Item:
    """One message waiting for its statement, and the row it gets back."""

    visitor: Visitor
    expected: Expected
    message: Message
    offline: bool
    answer: asyncio.Future[tuple[Any, ...]]


class Batcher:
    """Group commit without a timer: while this loop's statements are all in flight, the
    messages that arrive wait and go together in the next one (up to ``limit``). A message
    alone on a quiet server goes at once; under load one statement, one round trip and one
    commit serve many. A visitor's second message in the same wait goes in a later batch
    (one message per conversation per statement)."""

    def __init__(self, slots: int, limit: int) -> None:
        self.slots, self.limit = slots, limit
        self.waiting: list[_Item] = []
        self.in_flight = 0

    def submit(self, item: _Item) -> None:
        self.waiting.append(item)
        self._pump()

    def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while self.waiting and self.in_flight < self.slots:
            batch: list[_Item] = []
            seen: set[uuid.UUID] = set()
            kept: list[_Item] = []
            for item in self.waiting:
                if len(batch) < self.limit and item.visitor.id not in seen:
                    seen.add(item.visitor.id)
                    batch.append(item)
                else:
                    kept.append(item)
            self.waiting = kept
            self.in_flight += 1
            task = loop.create_task(self._run(batch))
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)

    async def _run(self, batch: list[_Item]) -> None:
        try:
            await _store(batch)
        finally:
            self.in_flight -= 1
            self._pump()


async def _store(batch: list[_Item]) -> None:
    """One statement for the batch; each item's future gets its row. A batch that fails is
    tried again one message at a time, so one message's failure is its own."""
    batch.sort(key=lambda item: item.visitor.id)  # the lock order
    try:
        answers = await pgpool.pool().run(_statement(), _params(batch))
    except Exception as exc:
        if len(batch) == 1:
            if not batch[0].answer.done():
                batch[0].answer.set_exception(exc)
            return
        log.warning("hot path: a batch of %s failed (%s); one at a time", len(batch), exc)
        for item in batch:
            await _store([item])
        return
    for item, row in zip(batch, answers, strict=True):
        if not item.answer.done():
            item.answer.set_result(row)


def _field(column: str) -> models.Field[Any, Any]:
    found = Message._meta.get_field(column)
    assert isinstance(found, models.Field)
    return found


def _params(batch: list[_Item]) -> dict[str, Any]:
    connection = pgpool.conversions()
    params: dict[str, Any] = {col: [] for col in _GIVEN}
    fields = [(col, _field(col)) for col in _GIVEN]
    token_of: list[uuid.UUID] = []
    token: list[str] = []
    for item in batch:
        m = item.message
        for col, f in fields:  # sealed and stamped as the model does
            params[col].append(f.get_db_prep_save(f.pre_save(m, True), connection))
        words = search.tokens(m.body)
        token_of += [m.id] * len(words)
        token += words
    return params | {
        "n": list(range(len(batch))),
        "visitor": [item.visitor.id for item in batch],
        "agent": [item.expected.agent_id for item in batch],
        "offline": [item.offline for item in batch],
        "token_of": token_of,
        "token": token,
    }


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Batcher] = (
    weakref.WeakKeyDictionary()
)


def _batcher() -> Batcher:
    loop = asyncio.get_running_loop()
    found = _batchers.get(loop)
    if found is None:
        found = _batchers[loop] = Batcher(settings.DATABASE_POOL_SIZE, BATCH_LIMIT)
    return found


async def visitor_message_append(
    *, visitor: Visitor, expected: Expected, client_id: uuid.UUID, body: str
) -> SendResult | None:
    """Store a visitor's message in one statement (shared with the others arriving at the
    same time) when this path's case holds; ``None``: nothing was written (not counted
    either), use the full path. Raises ``ratelimit.RateLimited``, and what psycopg raises
    (the client resends)."""
    # The visitor's rate, counted, and whether the agent is connected: Redis from the loop,
    # both at once (no thread, one round trip's wait).
    _, online = await asyncio.gather(
        ratelimit.hit_from_loop("visitor_messages", visitor.id.hex, what="messages"),
        presence.is_online_from_loop("agent", expected.agent_id),
    )
    message = Message(
        id=uuid.uuid4(), sender=Message.Sender.VISITOR, body=body, client_id=client_id
    )
    answer: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
    _batcher().submit(_Item(visitor, expected, message, not online, answer))
    _, resent, seq, unread, tags, *rest = await answer
    if resent is not None or seq is None:
        return None  # the full path answers a resend and every other case
    n = len(SUMMARY_FIELDS[Conversation])
    conversation = rows.instance(Conversation, rest[:n], _fields(Conversation))
    conversation.visitor = rows.instance(Visitor, rest[n:], _fields(Visitor))
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
