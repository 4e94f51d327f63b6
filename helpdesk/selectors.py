"""Reads. Every list is a fixed number of queries, whatever its length."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from helpdesk import access, crypto, payloads
from helpdesk.access import Actor
from helpdesk.models import (
    Agent,
    AgentGroup,
    Conversation,
    Message,
    ReadCursor,
    Site,
    Tag,
    Visitor,
    normalise_origin,
)


def with_summary(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Annotate what a conversation summary shows: unread count and the last message."""
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
    return (
        with_state(qs)
        .select_related("visitor")
        .prefetch_related("tags")
        .annotate(
            unread=Coalesce(Subquery(unread), 0),
            last_body=Subquery(last.values("body")[:1]),
            last_id=Subquery(last.values("id")[:1]),
            last_sender=Subquery(last.values("sender")[:1]),
            last_at=Subquery(last.values("created_at")[:1]),
        )
    )


STATES = ("unread", "pending", "replied", "resolved")
SCOPES = ("mine", "groups", "all")


def with_state(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """The conversation's state, in SQL so lists filter and count on it:
    resolved; unread (a visitor message its agent has not read); pending (read, waiting on an
    agent's reply); replied (waiting on the visitor). System lines never count as a reply."""
    return qs.annotate(
        state=Case(
            When(status=Conversation.Status.RESOLVED, then=Value("resolved")),
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
    qs = Conversation.objects.filter(assigned_agent=agent, status=Conversation.Status.OPEN)
    return [payloads.conversation(c) for c in inbox_order(with_summary(qs))]


def conversation_summaries(ids: Iterable[uuid.UUID]) -> list[dict[str, Any]]:
    qs = Conversation.objects.filter(pk__in=list(ids))
    return [payloads.conversation(c) for c in inbox_order(with_summary(qs))]


def conversation_summary(conversation_id: uuid.UUID) -> dict[str, Any]:
    return payloads.conversation(with_summary(Conversation.objects.all()).get(pk=conversation_id))


def conversation_state(c: Conversation) -> str:
    """``with_state``'s rule for a row in hand (tests hold the two equal)."""
    if c.status == Conversation.Status.RESOLVED:
        return "resolved"
    if c.last_visitor_seq > c.agent_read_seq:
        return "unread"
    if c.last_visitor_seq > c.last_agent_seq:
        return "pending"
    return "replied"


def conversation_summary_after(c: Conversation, last: Message) -> dict[str, Any]:
    """The summary of a conversation the caller has just written (locked, its fields
    current) whose newest message is ``last``, a visitor's or an agent's: what
    ``conversation_summary`` reads, without its subqueries. On the path of every message,
    where that query was the largest cost (docs/performance.md)."""
    c.state = conversation_state(c)  # type: ignore[attr-defined]
    c.unread = (  # type: ignore[attr-defined]
        Message.objects.filter(
            conversation=c, sender=Message.Sender.VISITOR, seq__gt=c.agent_read_seq
        ).count()
        if c.last_visitor_seq > c.agent_read_seq
        else 0
    )
    return payloads.conversation(c, last=last)


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
    return AgentGroup.objects.filter(pk=group_id).exists()


def tags_exist(tag_ids: list[int]) -> bool:
    """Every one of ``tag_ids`` is a tag (managers define them)."""
    return Tag.objects.filter(pk__in=tag_ids).count() == len(set(tag_ids))


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
    if scope == "groups":
        return Conversation.objects.filter(_groups_q(actor))
    if scope == "all":
        if not actor.oversees_any:
            raise BadQuery("Only managers see all conversations.")
        return access.visible(actor)
    raise BadQuery(f"scope must be one of {', '.join(SCOPES)}.")


def _mine_q(actor: Actor) -> Q:
    if actor.agent_id is None:  # a manager without an agent profile has nothing of their own
        return Q(pk__in=[])
    return Q(assigned_agent_id=actor.agent_id)


def _groups_q(actor: Actor) -> Q:
    return _mine_q(actor) | Q(group_id__in=sorted(actor.member_of))


def _search(qs: QuerySet[Conversation], q: str) -> QuerySet[Conversation]:
    """Words of the visitor's name or email (whole words: they are encrypted), a tag's name,
    or a conversation ID (whole or its first 8+ hex digits). Message bodies are not searched."""
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
    hexdigits = q.replace("-", "").lower()
    if 8 <= len(hexdigits) <= 32 and all(c in "0123456789abcdef" for c in hexdigits):
        low = uuid.UUID(hexdigits.ljust(32, "0"))
        high = uuid.UUID(hexdigits.ljust(32, "f"))
        match |= Q(pk__gte=low, pk__lte=high)
    return qs.filter(match)


def _sort_keys(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    return qs.annotate(
        wait_key=Coalesce("waiting_since", Value(FAR_FUTURE), output_field=DateTimeField()),
        active_key=Coalesce("last_message_at", "created_at", output_field=DateTimeField()),
    )


def _encode_cursor(c: Conversation) -> str:
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
    listed = with_summary(_sort_keys(base))
    if state == "open":
        listed = listed.filter(status=Conversation.Status.OPEN)
    else:
        listed = listed.filter(state=state)
    if cursor:
        listed = _after(listed, cursor)
    page = list(listed.order_by("-priority", "wait_key", F("active_key").desc(), "pk")[: limit + 1])
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
    open_ = Q(status=Conversation.Status.OPEN)
    by_state = with_state(base).aggregate(
        open=Count("pk", filter=open_),
        **{s: Count("pk", filter=Q(state=s)) for s in STATES},
    )
    everything = access.visible(actor) if scope == "all" else _scope(actor, "groups")
    by_scope = everything.aggregate(
        mine=Count("pk", filter=open_ & _mine_q(actor)),
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
