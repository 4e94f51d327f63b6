"""A returning visitor's hello: one PostgreSQL statement sent from the event loop
(``helpdesk.pgpool``), not two trips to the process's one database thread.

The full path (``visitors.visitor_session_from_hello``, then the catch-up) makes ten round
trips there, and after a deploy every widget says hello again at once: each hello queued
behind all the others and every message. Most hellos are a visitor coming back with a valid
token and a cursor that is current or nearly. For those this module, in one statement (its
own transaction):

- reads the site, if it still has the key, allowed origins and identity secret the caller
  checked the hello against (``site_cache``'s copy): else it writes nothing;
- updates the visitor named by the token (seen now; language, time zone, page, attributes
  and browser from this hello), if they belong to the site and are the person the hello
  proves (a signed-in user) or an anonymous visitor when it proves no one;
- reads their latest conversation and the messages after the cursor (without a cursor
  naming it, the last ``VISITOR_HISTORY_LIMIT``), with their agents' names;
- marks the visitor's offline rows of those messages delivered;
- lists the agents on duty for the site if connected (``routing.selectors.duty_agents_sql``),

and the welcome is made from its one row. What needs the stored, encrypted values (a page
not seen before, the first referrer, a signed-in user's new name) is written after it, when
it changed: a second statement, or the database thread for a name (its blind indexes).
Files of the caught-up messages take a statement; a conversation waiting in a queue, a trip
for its place (``routing.selectors.waiting_expectation``).

Anything else (no token, a pending or invalid one, another site's, an identified visitor's
token without the proof, a merge of an anonymous visitor into a signed-in one, a site changed
since the caller's copy, more than the limit after the cursor) writes nothing here that the full path would not write again, and is
the caller's cue for the full path.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.utils import timezone

from helpdesk import crypto, files, metrics, payloads, pgpool, rows, site_cache, tokens
from helpdesk.dbtrips import database_trip
from helpdesk.models import Agent, Attachment, Conversation, Message, Site, Visitor
from helpdesk.services.visitors import (
    VisitorContext,
    VisitorSession,
    hello_context,
    hello_updates,
    identity_verified,
    welcome_of,
)
from offline.models import OfflineMessage
from routing import presence
from routing import selectors as routing_selectors

# What the welcome and the queue's answer read of the conversation: the statement returns
# these, not the whole row (the others stay deferred; the instance does not outlive the hello).
_CONVERSATION = (
    "id", "site", "visitor", "status", "assigned_agent", "group", "priority", "queued_at",
    "agent_read_seq", "created_at",
)  # fmt: skip
# Written by the statement: what a hello tells that does not depend on the stored values.
_TOLD = ("last_seen_at", "language", "timezone", "page_url", "attributes")
# Written after it when they changed: computed from the stored (encrypted) values.
_AFTER = ("pages", "referrer", "name")


@dataclass(frozen=True)
class Returning:
    """A hello this path may answer: a valid token of the site naming a visitor."""

    visitor_id: uuid.UUID
    # The signed-in user the hello proves (``identity_verified``), or "": then the visitor
    # must be anonymous (an identified visitor is never resumed by token alone).
    external_id: str


def returning(site: Site, fields: dict[str, Any]) -> Returning | None:
    """Whether validated ``HelloIn`` fields are a returning visitor's hello to ``site``; None:
    the full path answers (it refuses a bad token with its reason)."""
    token = fields.get("token")
    if not token:
        return None
    try:
        claim = tokens.read(token)
    except tokens.InvalidToken:
        return None
    if claim.pending is not None or claim.site_id != site.id:
        return None
    user_id = fields.get("user_id", "")
    verified = identity_verified(site, user_id, fields.get("user_hash", ""))
    return Returning(claim.visitor_id, user_id if verified else "")


@dataclass(frozen=True)
class Resumed:
    session: VisitorSession
    conversation: Conversation | None
    messages: list[dict[str, Any]]  # the catch-up, as the welcome carries it
    duty: list[int]  # the agents on duty for the site, if connected


def _conversation_fields() -> list[Any]:
    return [Conversation._meta.get_field(name) for name in _CONVERSATION]


@cache
def _statement() -> str:
    """Built once from the models' own table and column names (no input is interpolated)."""
    v, c, m = Visitor._meta.db_table, Conversation._meta.db_table, Message._meta.db_table
    kept, delivered = OfflineMessage.State.PENDING.value, OfflineMessage.State.DELIVERED.value
    off, agent, files_ = (
        OfflineMessage._meta.db_table,
        Agent._meta.db_table,
        Attachment._meta.db_table,
    )
    told = ", ".join(f"{Visitor._meta.get_field(f).column} = %({f})s" for f in _TOLD)  # type: ignore[union-attr]
    conversation = ", ".join(f"c.{f.column}" for f in _conversation_fields())
    catch_up = (
        "json_build_object('id', m.id, 'seq', m.seq, 'sender', m.sender, 'agent', a.display_name,"
        " 'body', m.body, 'created_at', m.created_at, 'client_id', m.client_id, 'meta', m.meta)"
    )
    return f"""
WITH s AS (
    SELECT {rows.columns(Site, "s")} FROM {Site._meta.db_table} s
    WHERE s.id = %(site)s AND s.widget_key = %(widget_key)s
        AND s.allowed_origins = %(allowed_origins)s AND s.identity_secret = %(identity_secret)s
), v AS (
    UPDATE {v} SET {told},
        user_agent = CASE WHEN %(user_agent)s = '' THEN user_agent ELSE %(user_agent)s END
    WHERE id = %(visitor)s AND site_id = %(site)s AND external_id = %(external_id)s
        AND EXISTS (SELECT 1 FROM s)
    RETURNING {", ".join(rows.column_names(Visitor))}
), c AS (
    SELECT {conversation} FROM {c} c
    WHERE c.visitor_id = %(visitor)s AND EXISTS (SELECT 1 FROM v)
    ORDER BY c.created_at DESC LIMIT 1
), after AS (
    SELECT m.id, m.seq FROM {m} m JOIN c ON m.conversation_id = c.id
    WHERE c.id = %(cursor_conversation)s::uuid AND m.seq > %(cursor_seq)s
    ORDER BY m.seq LIMIT %(limit)s + 1
), latest AS (
    SELECT m.id, m.seq FROM {m} m JOIN c ON m.conversation_id = c.id
    WHERE c.id IS DISTINCT FROM %(cursor_conversation)s::uuid
    ORDER BY m.seq DESC LIMIT %(limit)s
), sent AS (
    SELECT * FROM (SELECT * FROM after UNION ALL SELECT * FROM latest) picked
    WHERE (SELECT count(*) FROM after) <= %(limit)s
), delivered AS (
    UPDATE {off} o SET state = '{delivered}', delivered_at = %(now)s
    FROM c, {m} m
    WHERE o.conversation_id = c.id AND o.audience = '{OfflineMessage.Audience.VISITOR.value}'
        AND o.state = '{kept}' AND m.id = o.message_id AND m.seq <= (SELECT max(seq) FROM sent)
)
SELECT {rows.columns(Site, "s")}, {rows.columns(Visitor, "v")}, {conversation},
    (SELECT json_agg({catch_up} ORDER BY m.seq)
        FROM sent s JOIN {m} m ON m.id = s.id LEFT JOIN {agent} a ON a.id = m.agent_id),
    (SELECT count(*) FROM after) > %(limit)s,
    EXISTS (SELECT 1 FROM {files_} f WHERE f.message_id IN (SELECT id FROM sent)),
    {routing_selectors.duty_agents_sql("site")}
FROM (SELECT 1) one LEFT JOIN s ON true LEFT JOIN v ON true LEFT JOIN c ON true
"""  # noqa: S608


def _params(
    site: Site, who: Returning, fields: dict[str, Any], context: VisitorContext
) -> dict[str, Any]:
    cursor, now = fields.get("cursor") or {}, timezone.now()
    holder = Visitor(id=who.visitor_id)
    setattr(holder, "attributes", context.attributes or {})  # noqa: B010 (typed as text)
    return {
        "visitor": who.visitor_id,
        "site": site.id,
        # What the caller checked with its copy of the site: the statement writes nothing
        # unless the site still says the same (``site_cache``).
        "widget_key": site.widget_key,
        "allowed_origins": site.allowed_origins,
        "identity_secret": site.identity_secret,
        "external_id": who.external_id,
        "now": now,
        "last_seen_at": now,
        "language": context.language,
        "timezone": context.timezone,
        "page_url": context.page_url,
        "attributes": rows.sealed(holder, "attributes"),  # as save() seals it, for this ID
        "user_agent": context.user_agent,
        "cursor_conversation": cursor.get("conversation_id"),
        "cursor_seq": cursor.get("seq", 0),
        "limit": settings.VISITOR_HISTORY_LIMIT,
    }


async def visitor_resume(
    *, site: Site, who: Returning, fields: dict[str, Any], user_agent: str
) -> Resumed | None:
    """The returning visitor seen, their catch-up read and marked delivered; None: the full
    path answers (nothing was written that it would not write again). Raises what psycopg
    raises (the client says hello again)."""
    context = hello_context(fields, user_agent=user_agent)
    [row] = await pgpool.pool().run(_statement(), _params(site, who, fields, context))
    ns, nv, nc = (
        len(Site._meta.concrete_fields),
        len(Visitor._meta.concrete_fields),
        len(_CONVERSATION),
    )
    if row[0] is None:  # the site changed since this process read it (or is gone)
        site_cache.forget(site.widget_key)
        return None
    if row[ns] is None:
        return None  # not this site's visitor, not who the hello proves, or gone
    caught_up, overflow, with_files, duty = row[ns + nv + nc :]
    if overflow:
        return None  # more than the limit after the cursor: the full path sends them all
    site = rows.instance(Site, row[:ns])  # as stored now: the welcome shows it
    visitor = rows.instance(Visitor, row[ns : ns + nv])
    visitor.site = site
    conversation = None
    if row[ns + nv] is not None:
        conversation = rows.instance(
            Conversation, row[ns + nv : ns + nv + nc], _conversation_fields()
        )
        conversation.visitor = visitor
    await _seen_after(visitor, context, fields.get("name", ""))
    messages = [_payload(item, conversation) for item in caught_up or []]
    if with_files:
        await _attach(messages)
    metrics.messages_delivered_committed("catch_up", "visitor", len(messages))
    token = tokens.issue(site_id=site.id, visitor_id=visitor.id)
    session = VisitorSession(site=site, visitor=visitor, token=token)
    return Resumed(session, conversation, messages, list(duty))


async def welcome(resumed: Resumed, *, socket: str) -> dict[str, Any]:
    """The welcome frame. The visitor is online from now: the last step, so a hello that
    failed before leaves no presence behind."""
    conversation, visitor = resumed.conversation, resumed.session.visitor
    assert visitor is not None
    queue = None
    if (
        conversation is not None
        and conversation.status == Conversation.Status.OPEN
        and not conversation.assigned_agent_id
    ):  # waiting in a queue: where, or when the team is next in (reads)
        queue = await database_trip(routing_selectors.waiting_expectation)(conversation)
    on_duty = await presence.connect_seeing_from_loop(
        "visitor", visitor.id.hex, socket, "agent", [str(a) for a in resumed.duty]
    )
    shown = welcome_of(resumed.session, conversation, agents_online=on_duty, queue=queue)
    return {"type": "welcome", **shown, "messages": resumed.messages}


async def _seen_after(visitor: Visitor, context: VisitorContext, name: str) -> None:
    """What the statement could not write, written when it changed: computed from the
    stored values, which are encrypted."""
    updates = hello_updates(visitor, context=context, name=name)
    changed = [f for f in _AFTER if f in updates and updates[f] != getattr(visitor, f)]
    if not changed:
        return
    for f in changed:
        setattr(visitor, f, updates[f])
    if "name" in changed:  # the model's save() keeps the name's blind index
        await database_trip(visitor.save)(update_fields=changed)
        return
    table = Visitor._meta.db_table
    sets = ", ".join(f"{Visitor._meta.get_field(f).column} = %({f})s" for f in changed)  # type: ignore[union-attr]
    params = {f: rows.sealed(visitor, f) for f in changed} | {"id": visitor.id}
    await pgpool.pool().run(f"UPDATE {table} SET {sets} WHERE id = %(id)s", params)  # noqa: S608


def _payload(item: dict[str, Any], conversation: Conversation | None) -> dict[str, Any]:
    """A caught-up message as the protocol shows it to the visitor, from the statement's
    JSON (its body still sealed)."""
    created = dt.datetime.fromisoformat(item["created_at"]).astimezone(dt.UTC)
    return payloads.message_row(
        {
            "id": uuid.UUID(item["id"]),
            "conversation_id": conversation.pk if conversation else None,
            "seq": item["seq"],
            "sender": item["sender"],
            "agent__display_name": item["agent"],
            "body": crypto.Sealed(item["body"]),
            "created_at": created,
            "client_id": item["client_id"],
            "meta": item["meta"],
        },
        audience="visitor",
    )


@cache
def _files_statement() -> str:
    return (
        f"SELECT {rows.columns(Attachment, 'f')} FROM {Attachment._meta.db_table} f "  # noqa: S608
        "WHERE f.message_id = ANY(%s) ORDER BY f.created_at"
    )


async def _attach(messages: list[dict[str, Any]]) -> None:
    """The files of the caught-up messages (``files.with_attachments``, from the loop)."""
    ids = [uuid.UUID(m["id"]) for m in messages]
    found: dict[str, list[dict[str, Any]]] = {}
    for row in await pgpool.pool().run(_files_statement(), [ids]):
        attachment = rows.instance(Attachment, row)
        found.setdefault(str(attachment.message_id), []).append(
            files.payload(attachment, audience="visitor")
        )
    for m in messages:
        m["attachments"] = found.get(m["id"], [])
