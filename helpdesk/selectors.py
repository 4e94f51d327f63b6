"""Reads. Every list is a fixed number of queries, whatever its length."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Now
from ua_parser import parse as ua_parse

from helpdesk import access, crypto, files, payloads, search, summaries
from helpdesk.access import Actor
from helpdesk.models import (
    Agent,
    AgentGroup,
    Conversation,
    Message,
    MessageToken,
    Note,
    ReadCursor,
    SavedReply,
    Site,
    Tag,
    Visitor,
    normalise_origin,
)
from routing import presence


def with_summary(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Annotate what a conversation summary shows: unread count and the last message."""
    return _summary_annotations(qs).select_related("visitor").prefetch_related("tags")


def _summary_annotations(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    # The last thing a person said (system lines such as the offline notice are not it).
    last = (
        Message.objects.filter(conversation=OuterRef("pk"))
        .exclude(sender=Message.Sender.SYSTEM)
        .order_by("-seq")
    )
    unread = (
        Message.objects.filter(
            conversation=OuterRef("pk"),
            sender=Message.Sender.VISITOR,
            seq__gt=OuterRef("agent_read_seq"),
        )
        .order_by()
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return with_state(qs).annotate(
        unread=Coalesce(Subquery(unread), 0),
        last_body=Subquery(last.values("body")[:1]),
        last_id=Subquery(last.values("id")[:1]),
        last_sender=Subquery(last.values("sender")[:1]),
        last_at=Subquery(last.values("created_at")[:1]),
    )


STATES = ("unread", "pending", "replied", "snoozed", "resolved")
SCOPES = ("mine", "queue", "groups", "all")


def with_state(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """The conversation's state, in SQL so lists filter and count on it:
    resolved; unread (a visitor message its agent has not read); pending (read, waiting on an
    agent's reply); replied (waiting on the visitor). System lines never count as a reply."""
    return qs.annotate(
        state=Case(
            When(status=Conversation.Status.RESOLVED, then=Value("resolved")),
            When(snoozed_until__gt=Now(), then=Value("snoozed")),
            When(last_visitor_seq__gt=F("agent_read_seq"), then=Value("unread")),
            When(last_visitor_seq__gt=F("last_agent_seq"), then=Value("pending")),
            default=Value("replied"),
            output_field=CharField(),
        )
    )


def inbox_order(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Waiting conversations first, oldest wait first; then the most recently active."""
    return qs.order_by(
        F("waiting_since").asc(nulls_last=True), F("last_message_at").desc(nulls_last=True)
    )


def agent_inbox(agent: Agent) -> list[dict[str, Any]]:
    """The agent's open conversations in inbox order (read at every connect)."""
    if connection.vendor == "postgresql":
        rows = summaries.inbox(agent.pk)
        return [payloads.conversation_row(r) for r in rows]
    qs = Conversation.objects.filter(assigned_agent=agent, status=Conversation.Status.OPEN)
    return [payloads.conversation(c) for c in inbox_order(with_summary(qs))]


def conversation_summaries(ids: Iterable[uuid.UUID | str]) -> dict[str, dict[str, Any]]:
    """``conversation_summary`` of each, by ID: one query, read as plain rows (the flush on
    login reads a thousand at a time, where model instances, then the ORM's building of
    this query and of its rows, were most of the cost)."""
    wanted = [str(i) for i in ids]
    if not wanted:
        return {}
    rows = summaries.by_ids(wanted) if connection.vendor == "postgresql" else summary_rows(wanted)
    return {str(r["id"]): payloads.conversation_row(r) for r in rows}


def summary_rows(ids: list[str]) -> list[dict[str, Any]]:
    """What ``payloads.conversation_row`` reads, through the ORM (``with_summary``'s own
    annotations)."""
    qs = _summary_annotations(Conversation.objects.filter(pk__in=ids)).annotate(
        tags_json=_TagsOf(F("pk"))
    )
    return list(qs.values(*payloads.SUMMARY_FIELDS, *_SUMMARY_EXTRA))


_SUMMARY_EXTRA = (
    "visitor__name",
    "visitor__email",
    "state",
    "unread",
    "last_body",
    "last_id",
    "last_sender",
    "last_at",
    "tags_json",
)


def conversation_summary(conversation_id: uuid.UUID) -> dict[str, Any]:
    return payloads.conversation(with_summary(Conversation.objects.all()).get(pk=conversation_id))


def conversation_state(c: Conversation) -> str:
    """``with_state``'s rule for a row in hand (tests hold the two equal)."""
    return summaries.state_of(
        {
            "status": c.status,
            "snoozed_until": c.snoozed_until,
            "last_visitor_seq": c.last_visitor_seq,
            "agent_read_seq": c.agent_read_seq,
            "last_agent_seq": c.last_agent_seq,
        }
    )


def conversation_summary_after(
    c: Conversation, last: Message, *, unread: int | None = None
) -> dict[str, Any]:
    """The summary of a conversation the caller has just written (locked, its fields
    current) whose newest message is ``last``, a visitor's or an agent's: what
    ``conversation_summary`` reads, without its subqueries. On the path of every message,
    where that query was the largest cost (docs/performance.md). ``unread``: the count when
    the caller knows it (else counted here when there is anything to count); tags come from
    ``with_send_facts`` when the row was locked with them (else read here)."""
    c.state = conversation_state(c)  # type: ignore[attr-defined]
    if unread is None:
        unread = (
            Message.objects.filter(
                conversation=c, sender=Message.Sender.VISITOR, seq__gt=c.agent_read_seq
            ).count()
            if c.last_visitor_seq > c.agent_read_seq
            else 0
        )
    c.unread = unread  # type: ignore[attr-defined]
    return payloads.conversation(c, last=last)


class _TagsOf(Func):
    """A conversation's tags as a JSON text ``[{"id", "name", "color"}, …]`` by name, in
    the statement that reads the conversation (a scalar subquery: no second round trip)."""

    output_field = TextField()

    def _sql(self, compiler: Any, connection: Any, aggregate: str, empty: str) -> Any:
        pk, params = compiler.compile(self.source_expressions[0])
        tag, link = Tag._meta.db_table, Conversation.tags.through._meta.db_table
        # Table names from the models and the compiled column: no input is interpolated.
        rows = (
            f"SELECT t.id, t.name, t.color FROM {tag} t JOIN {link} l ON l.tag_id = t.id "  # noqa: S608
            f"WHERE l.conversation_id = {pk} ORDER BY t.name"
        )
        return f"(SELECT COALESCE({aggregate}, {empty}) FROM ({rows}) r)", params  # noqa: S608

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        agg = "json_agg(json_build_object('id', r.id, 'name', r.name, 'color', r.color))::text"
        return self._sql(compiler, connection, agg, "'[]'")

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]  # SQLite
        agg = "json_group_array(json_object('id', r.id, 'name', r.name, 'color', r.color))"
        return self._sql(compiler, connection, agg, "'[]'")


def with_send_facts(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """What a message's summary needs beyond the row, read by the statement that locks it:
    ``unread_before`` (the visitor's messages past the agent's read cursor) and
    ``tags_json``. ``conversation_summary_after`` then needs no query of its own."""
    return conversations.annotate(
        unread_before=Coalesce(
            Subquery(
                Message.objects.filter(
                    conversation=OuterRef("pk"),
                    sender=Message.Sender.VISITOR,
                    seq__gt=OuterRef("agent_read_seq"),
                )
                .order_by()
                .values("conversation")
                .annotate(n=Count("pk"))
                .values("n")
            ),
            0,
        ),
        tags_json=_TagsOf(F("pk")),
    )


def read_cursor_of(agent_id: int) -> Coalesce:
    """For an update on conversations handed to ``agent_id``: how far they had read each."""
    return Coalesce(
        Subquery(
            ReadCursor.objects.filter(conversation=OuterRef("pk"), agent_id=agent_id).values("seq")[
                :1
            ]
        ),
        0,
    )


def agent_for_user(user: Any) -> Agent | None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return Agent.objects.filter(user=user).first()


def transfer_targets(agent: Agent) -> dict[str, list[dict[str, Any]]]:
    """Where an agent can move a conversation: any team, any other active agent."""
    return {
        "groups": [{"id": g.id, "name": g.name} for g in AgentGroup.objects.order_by("name")],
        "agents": [
            {"id": pk, "name": name}
            for pk, name in Agent.objects.filter(user__is_active=True)
            .exclude(pk=agent.pk)
            .order_by("display_name")
            .values_list("pk", "display_name")
        ],
    }


def transfer_target_exists(*, agent_id: int | None, group_id: int | None) -> bool:
    """An active agent (by ``agent_id``), else a group (by ``group_id``)."""
    if agent_id is not None:
        return Agent.objects.filter(pk=agent_id, user__is_active=True).exists()
    return group_id is not None and AgentGroup.objects.filter(pk=group_id).exists()


def tags_exist(tag_ids: list[int]) -> bool:
    """Every one of ``tag_ids`` is a tag (managers define them)."""
    return Tag.objects.filter(pk__in=tag_ids).count() == len(set(tag_ids))


def message_payloads(messages: list[Message], *, audience: payloads.Audience) -> list[dict]:
    """The protocol's shape of ``messages``, with their attachments (one query)."""
    return files.with_attachments(
        [payloads.message(m, audience=audience) for m in messages], audience=audience
    )


def agent_history(actor: Actor, conversation_id: uuid.UUID, after_seq: int) -> dict[str, Any]:
    """What an agent opening a conversation gets: its summary, its messages after
    ``after_seq`` (with their files), its internal notes, and who the visitor is. A fixed
    number of queries, however long the conversation or the visitor's past."""
    conversation = Conversation.objects.select_related("visitor", "site").get(pk=conversation_id)
    return {
        "conversation": conversation_summary(conversation_id),
        "messages": message_payloads(messages_after(conversation_id, after_seq), audience="agent"),
        "notes": [payloads.note(n) for n in notes_of(conversation_id)],
        "visitor": visitor_panel(actor, conversation),
    }


@lru_cache(maxsize=1024)
def device_of(user_agent: str) -> dict[str, str] | None:
    """Browser, system and device from a User-Agent (ua-parser's maintained rules)."""
    if not user_agent:
        return None
    parsed = ua_parse(user_agent)

    def name(part: Any) -> str:
        if part is None or part.family in ("Other", None):
            return ""
        return " ".join(str(x) for x in (part.family, part.major) if x)

    device = parsed.device.family if parsed.device and parsed.device.family != "Other" else ""
    return {"browser": name(parsed.user_agent), "os": name(parsed.os), "device": device or ""}


def visitor_panel(actor: Actor, conversation: Conversation) -> dict[str, Any]:
    """Who the visitor is, beside the thread: what they told us, what the host site vouched
    for, where they are and were, and their other conversations this person may see."""
    v = conversation.visitor
    past = (
        access.visible(actor)
        .filter(visitor_id=v.pk)
        .exclude(pk=conversation.pk)
        .order_by("-created_at")
        .values("id", "status", "created_at", "last_message_at")[:20]
    )
    return {
        "id": str(v.pk),
        "name": v.name,
        "display_name": v.display_name,
        "email": v.email,
        "email_verified": v.email_verified_at is not None,
        "external_id": v.external_id,
        "channel": v.channel,
        "site_name": conversation.site.name,
        "language": v.language,
        "timezone": v.timezone,
        "page_url": v.page_url,
        "pages": v.pages or [],
        "referrer": v.referrer,
        "device": device_of(v.user_agent),
        "attributes": v.attributes or {},
        "first_seen": payloads.iso(v.created_at),
        "last_seen": payloads.iso(v.last_seen_at),
        "online": presence.is_online("visitor", v.pk.hex),
        "past_conversations": [
            {
                "id": str(p["id"]),
                "status": p["status"],
                "created_at": payloads.iso(p["created_at"]),
                "last_message_at": payloads.iso(p["last_message_at"]),
            }
            for p in past
        ],
    }


def notes_of(conversation_id: uuid.UUID) -> list[Note]:
    return list(
        Note.objects.filter(conversation_id=conversation_id)
        .select_related("agent")
        .prefetch_related("mentions")
        .order_by("created_at")
    )


def messages_after(
    conversation_id: uuid.UUID, after_seq: int, limit: int | None = None
) -> list[Message]:
    qs = Message.objects.filter(conversation_id=conversation_id, seq__gt=after_seq).select_related(
        "agent"
    )
    if limit is None:
        return list(qs.order_by("seq"))
    return list(reversed(qs.order_by("-seq")[:limit]))


def visitor_latest_conversation(visitor: Visitor) -> Conversation | None:
    return visitor.conversations.order_by("-created_at").first()


def visitor_catch_up(
    visitor: Visitor, cursor: dict[str, Any] | None, limit: int
) -> tuple[Conversation | None, list[Message]]:
    """The visitor's latest conversation: everything after a cursor that names it, else its
    last ``limit`` messages. ``cursor`` is validated (``conversation_id``, ``seq``)."""
    conv = visitor_latest_conversation(visitor)
    if conv is None:
        return None, []
    if cursor and str(cursor.get("conversation_id")) == str(conv.id):
        return conv, messages_after(conv.id, cursor["seq"])
    return conv, messages_after(conv.id, 0, limit)


def visitor_history_before(
    visitor: Visitor, *, conversation_id: uuid.UUID, before_seq: int, limit: int
) -> tuple[list[Message], bool] | None:
    """Up to ``limit`` messages before ``before_seq`` (oldest first), and whether there are
    older ones still. None: not a conversation of this visitor."""
    if not visitor.conversations.filter(pk=conversation_id).exists():
        return None
    rows = list(
        Message.objects.filter(conversation_id=conversation_id, seq__lt=before_seq)
        .select_related("agent")
        .order_by("-seq")[: limit + 1]
    )
    return rows[:limit][::-1], len(rows) > limit


def origin_allowed(site: Site, origin: str | None) -> bool:
    """May a visitor socket or widget for ``site`` come from ``origin``? No Origin (a native
    app or mini-program), our own pages (the widget frame), or one of the site's allowed
    origins (anything, while the site has none set)."""
    if not origin:
        return True
    normal = normalise_origin(origin)
    if not normal:
        return False
    if origin_is_ours(normal):
        return True
    allowed = site.origins()
    return not allowed or normal in allowed


def origin_allowed_by_a_site(origin: str | None) -> bool:
    """May a page of ``origin`` call the visitor API from the browser (CORS)? The same rule
    as the visitor socket's (``origin_allowed``), for any site: the token in the request
    names the site, and the API checks it as it does without CORS. One query."""
    normal = normalise_origin(origin or "")
    if not normal:
        return False
    if origin_is_ours(normal):
        return True
    for raw in Site.objects.values_list("allowed_origins", flat=True):
        allowed = [o for o in (normalise_origin(v) for v in raw.split()) if o]
        if not allowed or normal in allowed:
            return True
    return False


def origin_is_ours(origin: str | None) -> bool:
    """Is ``origin`` one of this helpdesk's own hosts (``ALLOWED_HOSTS``)? Agent sockets,
    which carry a session cookie, must come from one."""
    from django.conf import settings
    from django.http.request import split_domain_port, validate_host

    normal = normalise_origin(origin or "")
    if not normal:
        return False
    host, _ = split_domain_port(normal.split("://", 1)[1])
    return bool(host) and validate_host(host, settings.ALLOWED_HOSTS)


def site_by_key(widget_key: str) -> Site | None:
    return Site.objects.filter(widget_key=widget_key).first()


# ---- the message center ------------------------------------------------------------------------

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadQuery(ValueError):
    """A filter or cursor the caller may not use, or that does not parse."""


def _scope(actor: Actor, scope: str) -> QuerySet[Conversation]:
    """``mine``: assigned to me; ``groups``: mine and my groups' (``My teams``); ``all``:
    everything I may see (those who oversee a team or site only)."""
    if scope == "mine":
        return Conversation.objects.filter(_mine_q(actor))
    if scope == "queue":
        return Conversation.objects.filter(_queue_q(actor))
    if scope == "groups":
        return Conversation.objects.filter(_groups_q(actor))
    if scope == "all":
        if not actor.oversees_any:
            raise BadQuery("Only managers see all conversations.")
        return access.visible(actor)
    raise BadQuery(f"scope must be one of {', '.join(SCOPES)}.")


def _open_q() -> Q:
    """Open and not snoozed (a snooze that has run out counts as awake at once)."""
    return Q(status=Conversation.Status.OPEN) & (
        Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=Now())
    )


def _mine_q(actor: Actor) -> Q:
    if actor.agent_id is None:  # a manager without an agent profile has nothing of their own
        return Q(pk__in=[])
    return Q(assigned_agent_id=actor.agent_id)


def _queue_q(actor: Actor) -> Q:
    """Waiting for someone to take them, in my groups (and the groups I manage)."""
    return Q(
        status=Conversation.Status.OPEN,
        assigned_agent__isnull=True,
        group_id__in=sorted(actor.member_of | actor.manages),
    )


def _groups_q(actor: Actor) -> Q:
    return _mine_q(actor) | Q(group_id__in=sorted(actor.member_of))


def _search(qs: QuerySet[Conversation], q: str) -> QuerySet[Conversation]:
    """Words of the visitor's name or email (whole words: they are encrypted), words of a
    message (every word in one message; Chinese by its character pairs: helpdesk.search), a
    tag's name, or a conversation ID (whole or its first 8+ hex digits)."""
    q = q.strip()
    if not q:
        return qs
    # Names and emails are encrypted: they are found by whole words through their blind
    # index (every word of the query must be a word of the name or email).
    words = crypto.search_terms(q)
    match = Q()
    for word in words:
        match &= Q(visitor__search_index__contains=crypto.search_token(word))
    if not words:
        match = Q(pk__in=[])
    match |= Q(
        pk__in=Conversation.tags.through.objects.filter(tag__name__iexact=q).values(
            "conversation_id"
        )
    )
    hits = _message_hits(q)
    if hits is not None:
        match |= Q(pk__in=hits.values("conversation_id"))
    hexdigits = q.replace("-", "").lower()
    if 8 <= len(hexdigits) <= 32 and all(c in "0123456789abcdef" for c in hexdigits):
        low = uuid.UUID(hexdigits.ljust(32, "0"))
        high = uuid.UUID(hexdigits.ljust(32, "f"))
        match |= Q(pk__gte=low, pk__lte=high)
    return qs.filter(match)


def _message_hits(q: str) -> QuerySet[Any] | None:
    """Messages holding every term of ``q``, as (message_id, conversation_id) rows."""
    tokens = set(search.tokens(q))
    if not tokens:
        return None
    return (
        MessageToken.objects.filter(token__in=sorted(tokens))
        .values("message_id", "conversation_id")
        .annotate(n=Count("token", distinct=True))
        .filter(n=len(tokens))
    )


def message_search(actor: Actor, q: str, *, limit: int = 20) -> dict[str, Any]:
    """The messages that match ``q`` (newest first) in conversations ``actor`` may see, each
    with its conversation's summary. Three queries; bodies decrypted for the page only."""
    hits = _message_hits(q.strip())
    if hits is None:
        return {"query": q, "results": []}
    rows = list(
        Message.objects.filter(
            pk__in=hits.values("message_id"), conversation__in=access.visible(actor)
        )
        .select_related("agent")
        .order_by("-created_at")[:limit]
    )
    summaries = conversation_summaries({m.conversation_id for m in rows})
    return {
        "query": q,
        "results": [
            {
                "message": payloads.message(m, audience="agent"),
                "conversation": summaries[str(m.conversation_id)],
            }
            for m in rows
        ],
    }


def _sort_keys(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    return qs.annotate(
        wait_key=Coalesce("waiting_since", Value(FAR_FUTURE), output_field=DateTimeField()),
        active_key=Coalesce("last_message_at", "created_at", output_field=DateTimeField()),
    )


def _encode_cursor(c: Any) -> str:  # a row of _sort_keys, with its keys
    raw = json.dumps(
        [c.priority, c.wait_key.isoformat(), c.active_key.isoformat(), str(c.pk)]
    ).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(qs: QuerySet[Conversation], cursor: str) -> QuerySet[Conversation]:
    """Keyset pagination on (priority desc, waiting since asc, last activity desc, id)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        priority, wait, active, pk = json.loads(raw)
        wait_at, active_at = datetime.fromisoformat(wait), datetime.fromisoformat(active)
        pk = uuid.UUID(pk)
        priority = int(priority)
    except (ValueError, TypeError, binascii.Error):
        raise BadQuery("The cursor is not one this server gave.") from None
    return qs.filter(
        Q(priority__lt=priority)
        | Q(priority=priority, wait_key__gt=wait_at)
        | Q(priority=priority, wait_key=wait_at, active_key__lt=active_at)
        | Q(priority=priority, wait_key=wait_at, active_key=active_at, pk__gt=pk)
    )


def message_center(
    actor: Actor,
    *,
    scope: str = "mine",
    state: str = "open",
    tag: int | None = None,
    q: str = "",
    cursor: str = "",
    limit: int = 50,
) -> dict[str, Any]:
    """One page of ``actor``'s message center, with the counts of every filter. A fixed
    number of queries whatever the number of conversations: the page (with its tags) and two
    aggregates for the counts. Every scope is within what ``actor`` may see."""
    if state not in (*STATES, "open"):
        raise BadQuery(f"state must be open or one of {', '.join(STATES)}.")
    base = _search(_scope(actor, scope), q)
    if tag is not None:
        base = base.filter(
            pk__in=Conversation.tags.through.objects.filter(tag_id=tag).values("conversation_id")
        )
    listed: QuerySet[Any] = with_summary(_sort_keys(base))  # annotated: state, the keys
    # "open": open and awake; else one state.
    listed = listed.filter(_open_q()) if state == "open" else listed.filter(state=state)
    if cursor:
        listed = _after(listed, cursor)
    order: list[Any] = ["-priority", "wait_key", F("active_key").desc(), "pk"]  # annotated keys
    page = list(listed.order_by(*order)[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "conversations": [payloads.conversation(c) for c in page],
        "next_cursor": _encode_cursor(page[-1]) if more else None,
        "counts": center_counts(actor, base=base, scope=scope),
    }


def center_counts(
    actor: Actor, *, base: QuerySet[Conversation] | None = None, scope: str = "mine"
) -> dict[str, Any]:
    """Per state within the scope (after search and tag), and open conversations per scope."""
    if base is None:
        base = _scope(actor, scope)
    open_ = _open_q()
    by_state = with_state(base).aggregate(
        open=Count("pk", filter=open_),
        **{s: Count("pk", filter=Q(state=s)) for s in STATES},
    )
    everything = access.visible(actor)  # every scope is within it
    by_scope = everything.aggregate(
        mine=Count("pk", filter=open_ & _mine_q(actor)),
        queue=Count("pk", filter=open_ & _queue_q(actor)),
        groups=Count("pk", filter=open_ & _groups_q(actor)),
        **({"all": Count("pk", filter=open_)} if scope == "all" else {}),
    )
    return {"states": by_state, "scopes": by_scope}


def center_context(actor: Actor) -> dict[str, Any]:
    """What the message center needs besides pages: the tags to choose from, and whether
    ``actor`` may see ``all``."""
    return {
        "tags": [{"id": t.pk, "name": t.name, "color": t.color} for t in Tag.objects.all()],
        "manager": actor.oversees_any,
    }


def saved_replies_for(actor: Actor) -> list[dict[str, Any]]:
    """The saved replies an agent may use: their own and their teams' (one query)."""
    qs = SavedReply.objects.filter(
        Q(owner_id=actor.user_id) | Q(group_id__in=sorted(actor.member_of | actor.manages))
    ).select_related("group")
    return [
        {
            "id": r.pk,
            "title": r.title,
            "body": r.body,
            "language": r.language,
            "shortcut": r.shortcut,
            "team": {"id": r.group_id, "name": r.group.name} if r.group is not None else None,
            "editable": r.owner_id == actor.user_id
            or actor.superuser
            or r.group_id in actor.manages,
        }
        for r in qs.order_by("title")
    ]
