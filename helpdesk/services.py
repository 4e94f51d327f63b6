"""Writes of the conversations domain. Inputs are already validated at the edges."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from helpdesk import access, events, payloads, ratelimit, selectors, tokens
from helpdesk.models import Agent, Channel, Conversation, Message, ReadCursor, Site, Tag, Visitor
from offline import services as offline_services
from offline.models import OfflineMessage
from routing import presence
from routing import selectors as routing_selectors
from routing import services as routing_services


class UnknownSite(Exception):
    pass


class NotAssigned(Exception):
    """An agent replied to a conversation assigned to a colleague."""


@dataclass(frozen=True)
class VisitorSession:
    site: Site
    visitor: Visitor
    token: str


@dataclass(frozen=True)
class SendResult:
    message: Message
    created: bool


@dataclass(frozen=True)
class VisitorContext:
    """What a client tells about the visitor at hello (for routing rules and local times)."""

    language: str = ""
    timezone: str = ""
    page_url: str = ""
    attributes: dict[str, Any] | None = None


def visitor_session_from_hello(
    fields: dict[str, Any], *, address: str, site: Site | None = None
) -> VisitorSession:
    """``visitor_session_start`` from validated ``HelloIn`` fields (socket and HTTP alike).
    A hello without a token is a new chat, counted per ``address`` (``RateLimited``).
    ``site``: the caller's own lookup of ``fields["site_key"]``, when it made one.

    Raises ``UnknownSite`` or ``tokens.InvalidToken``."""
    if not fields.get("token"):
        ratelimit.hit("visitor_sessions", address, what="new chats")
    site = site or selectors.site_by_key(fields["site_key"])
    if site is None:
        raise UnknownSite(fields["site_key"])
    return visitor_session_start(
        site=site,
        token=fields.get("token"),
        channel=fields["channel"],
        user_id=fields.get("user_id", ""),
        user_hash=fields.get("user_hash", ""),
        name=fields.get("name", ""),
        context=VisitorContext(
            language=fields["language"],
            timezone=fields["timezone"],
            page_url=fields["page_url"],
            attributes=fields["attributes"],
        ),
    )


def visitor_welcome(session: VisitorSession, conversation: Conversation | None) -> dict[str, Any]:
    """What a visitor client is told when its session starts, the same over the socket (the
    ``welcome`` frame, which adds the catch-up) and HTTP (``POST /api/v1/visitor/session``)."""
    return {
        "token": session.token,
        "visitor_id": str(session.visitor.id),
        "identified": bool(session.visitor.external_id),
        "site": {
            "name": session.site.name,
            "greeting": session.site.greeting,
            "color": session.site.color,
            "satisfaction": session.site.satisfaction,  # how to rate (helpdesk.satisfaction)
        },
        "agents_online": routing_selectors.site_has_online_agent(session.site.id),
        "conversation_id": str(conversation.id) if conversation else None,
        # How far the agent has read: the widget marks the visitor's messages "Seen".
        "read_seq": conversation.agent_read_seq if conversation else 0,
        "queue": routing_selectors.waiting_expectation(conversation) if conversation else None,
        "max_body": settings.MESSAGE_MAX_CHARS,
    }


def identity_hash(site: Site, user_id: str) -> str:
    """What the host site's server computes: HMAC-SHA256 of the user ID with the site's secret."""
    return hmac.new(site.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def identity_verified(site: Site, user_id: str, user_hash: str) -> bool:
    return bool(user_id) and hmac.compare_digest(
        identity_hash(site, user_id), user_hash.strip().lower()
    )


def visitor_session_start(
    *,
    site: Site,
    token: str | None,
    channel: str = Channel.WEB,
    context: VisitorContext | None = None,
    user_id: str = "",
    user_hash: str = "",
    name: str = "",
) -> VisitorSession:
    """Resume the visitor named by ``token``, or start a new one; issue a fresh token.

    With a ``user_id`` the host site signed (``user_hash``), the visitor is that user on every
    device: their history follows them, and an anonymous visitor's conversations on this
    device join it. An identified visitor is resumed only with that proof, never by token
    alone (a shared computer after logout starts anonymous). A wrong or missing hash is
    ignored: the visitor stays anonymous and sees no one's history.

    Raises ``tokens.InvalidToken`` (a token for another site is invalid).
    """
    visitor = None
    if token:
        claim = tokens.read(token)
        if claim.site_id != site.id:
            raise tokens.InvalidToken("The visitor token belongs to another site.")
        visitor = Visitor.objects.filter(pk=claim.visitor_id, site=site).first()
        if visitor is None:
            raise tokens.InvalidToken("The visitor token names no visitor.")
    if identity_verified(site, user_id, user_hash):
        visitor = _identified_visitor(site, user_id, channel, anonymous=visitor)
    elif visitor is not None and visitor.external_id:
        visitor = None  # an identified visitor's token, without the proof: start afresh
    if visitor is None:
        visitor = Visitor.objects.create(site=site, channel=channel)
    updates: dict[str, Any] = {"last_seen_at": timezone.now()}
    if name and visitor.external_id:
        updates["name"] = name[:100]  # only what the host site vouches for
    if context is not None:
        updates |= {
            "language": context.language,
            "timezone": context.timezone,
            "page_url": context.page_url,
            "attributes": context.attributes or {},
        }
    for field, value in updates.items():
        setattr(visitor, field, value)
    visitor.save(update_fields=list(updates))  # save(): encrypted fields and their indexes
    return VisitorSession(
        site=site, visitor=visitor, token=tokens.issue(site_id=site.id, visitor_id=visitor.id)
    )


@transaction.atomic
def _identified_visitor(
    site: Site, user_id: str, channel: str, *, anonymous: Visitor | None
) -> Visitor:
    visitor, _ = Visitor.objects.get_or_create(
        site=site, external_id=user_id, defaults={"channel": channel}
    )
    if anonymous is not None and not anonymous.external_id and anonymous.pk != visitor.pk:
        # What they wrote before signing in on this device is theirs: it joins their history.
        Conversation.objects.filter(visitor=anonymous).update(visitor=visitor)
        if anonymous.email_verified_at and not visitor.email_verified_at:
            visitor.email = anonymous.email
            visitor.email_verified_at = anonymous.email_verified_at
            visitor.save(update_fields=["email", "email_verified_at"])
    return visitor


def _append(conversation: Conversation, **fields: object) -> Message:
    """Add a message at the next seq. ``conversation`` must be locked by the caller."""
    now = timezone.now()
    conversation.last_seq += 1
    conversation.last_message_at = now
    if fields.get("sender") == Message.Sender.AGENT and conversation.waiting_since:
        fields["answered_wait"] = now - conversation.waiting_since  # for the reply times
    message = Message.objects.create(
        conversation=conversation, seq=conversation.last_seq, created_at=now, **fields
    )
    if message.sender == Message.Sender.VISITOR:
        conversation.last_visitor_seq = message.seq
        if conversation.first_visitor_at is None:
            conversation.first_visitor_at = now
    elif message.sender == Message.Sender.AGENT:
        conversation.last_agent_seq = message.seq  # system lines are never a reply
        if conversation.first_response_at is None and conversation.first_visitor_at:
            conversation.first_response_at = now
            conversation.first_response_agent_id = message.agent_id
    return message


# What every caller of _append saves.
APPENDED = [
    "last_seq",
    "last_message_at",
    "last_visitor_seq",
    "last_agent_seq",
    "first_visitor_at",
    "first_response_at",
    "first_response_agent",
]


@transaction.atomic
def message_send_by_visitor(*, visitor: Visitor, client_id: uuid.UUID, body: str) -> SendResult:
    """Store a visitor's message (once per ``client_id``), route, record if offline, notify."""
    # One visitor's sends are serialised: a resend can't race its original.
    visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
    existing = (
        Message.objects.filter(
            conversation__visitor=visitor, sender=Message.Sender.VISITOR, client_id=client_id
        )
        .select_related("agent")
        .first()
    )
    if existing is not None:
        return SendResult(existing, created=False)
    conversation = (
        Conversation.objects.select_for_update()
        .filter(visitor=visitor, status=Conversation.Status.OPEN)
        .order_by("-created_at")
        .first()
    )
    started = conversation is None
    if conversation is not None:
        conversation.visitor = visitor  # the locked row in hand: no second read for the summary
    if conversation is None:
        conversation = Conversation.objects.create(
            site_id=visitor.site_id, visitor=visitor, channel=visitor.channel
        )
    message = _append(conversation, sender=Message.Sender.VISITOR, body=body, client_id=client_id)
    if conversation.waiting_since is None:
        conversation.waiting_since = message.created_at
    conversation.save(update_fields=[*APPENDED, "waiting_since"])
    if started:
        outcome = routing_services.conversation_classify(
            conversation=conversation, first_message=body
        )
        if (
            routing_services.conversation_route(
                conversation=conversation, skill_ids=outcome.skill_ids
            )
            is None
        ):
            _tell_visitor_the_wait(conversation)
    elif conversation.assigned_agent_id is None:
        routing_services.conversation_route(conversation=conversation)

    agent_id = conversation.assigned_agent_id
    offline = agent_id is None or not presence.is_online("agent", agent_id)
    if offline:
        offline_services.offline_record(message=message, audience=OfflineMessage.Audience.AGENT)
        if started:
            Conversation.objects.filter(pk=conversation.pk).update(started_offline=True)
    events.send_event_on_commit(
        [events.visitor_group(visitor.id)],
        {"type": "message", "message": payloads.message(message, audience="visitor")},
    )
    if agent_id is not None:
        events.send_event_on_commit(
            [events.agent_group(agent_id)],
            {
                "type": "message",
                "message": payloads.message(message, audience="agent"),
                "conversation": selectors.conversation_summary_after(conversation, message),
            },
        )
    if offline:
        # After the events, and robust: the message is committed whatever happens here.
        transaction.on_commit(lambda: _after_offline_agent_message(conversation), robust=True)
    return SendResult(message, created=True)


def _tell_visitor_the_wait(conversation: Conversation) -> None:
    """A truthful expectation: the place in the queue, or when the team is next in."""
    expectation = routing_selectors.waiting_expectation(conversation) or {}
    if "position" in expectation:
        message_add_system(conversation=conversation, kind="queued", **expectation)
    else:
        message_add_system(
            conversation=conversation, kind="offline", next_open_at=expectation.get("next_open_at")
        )


def message_add_system(*, conversation: Conversation, kind: str, **meta: Any) -> Message:
    """A system line (never a reply). ``conversation`` must be locked by the caller."""
    meta = {"kind": kind, **meta}
    message = _append(
        conversation,
        sender=Message.Sender.SYSTEM,
        body=system_text(meta, conversation.visitor.timezone),
        meta=meta,
    )
    conversation.save(update_fields=APPENDED)
    events.send_event_on_commit(
        [events.visitor_group(conversation.visitor_id)],
        {"type": "message", "message": payloads.message(message, audience="visitor")},
    )
    if conversation.assigned_agent_id:
        events.send_event_on_commit(
            [events.agent_group(conversation.assigned_agent_id)],
            {"type": "message", "message": payloads.message(message, audience="agent")},
        )
    return message


def system_text(meta: dict[str, Any], visitor_timezone: str) -> str:
    """The English wording of a system line, safe for the visitor to read (clients may word
    it themselves from ``meta``). Times are in the visitor's own time zone."""
    kind = meta["kind"]
    if kind == "offline":
        text = "Our team is offline right now. Leave your message and we'll reply as soon as we're back."
        if meta.get("next_open_at"):
            back = datetime.fromisoformat(meta["next_open_at"]).astimezone(_zone(visitor_timezone))
            text += f" We're next in on {back:%A} at {back:%H:%M} ({back.tzname()})."
        return text
    if kind == "queued":
        return f"All our agents are busy right now. You are number {meta['position']} in the queue."
    if kind == "resolved":
        return "This conversation is closed. Write again any time and we'll pick it up."
    if kind == "requeued":
        return "We're connecting you with another agent."
    if kind == "overflowed":
        return f"We've passed your conversation to our {meta['group_name']} team."
    if kind == "transferred":
        if meta.get("to_agent"):
            return f"{meta['to_agent']} will continue this conversation."
        return f"We've passed your conversation to our {meta['to_group']} team."
    return ""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def conversation_changed(
    *, conversation: Conversation, agent_ids: list[int], flush: bool = True
) -> None:
    """Assignment moved: tell the agents concerned, and (``flush``) push pending work to the
    new one. Batch callers flush once per agent themselves."""
    from offline.tasks import flush_agent

    events.send_event_on_commit(
        [events.agent_group(a) for a in agent_ids],
        {"type": "conversation", "conversation": selectors.conversation_summary(conversation.id)},
    )
    new = conversation.assigned_agent_id
    if flush and new is not None:
        transaction.on_commit(lambda: flush_agent.delay(new), robust=True)


@transaction.atomic
def conversation_resolve(
    *, conversation_id: uuid.UUID, by_name: str, actor: access.Actor | None = None
) -> Conversation:
    """Close a conversation (idempotent). Its agent's room goes straight back to the queue.
    The visitor's next message starts a new conversation. ``actor`` (a person in the inbox
    or the back office) is checked under the row lock; None: the system itself.

    Raises ``routing_services.NotAllowed``."""
    from offline.tasks import flush_agent

    conversation = (
        Conversation.objects.select_for_update().select_related("visitor").get(pk=conversation_id)
    )
    if actor is not None and not access.may(actor, access.Action.RESOLVE, conversation):
        raise routing_services.NotAllowed(
            access.refusal(actor, access.Action.RESOLVE, conversation)
        )
    if conversation.status == Conversation.Status.RESOLVED:
        if actor is not None and actor.agent_id:  # already done: tell the asker so
            conversation_changed(conversation=conversation, agent_ids=[actor.agent_id], flush=False)
        return conversation
    conversation.status = Conversation.Status.RESOLVED
    conversation.waiting_since = None
    conversation.resolved_at = timezone.now()  # resolution times (reports)
    conversation.save(update_fields=["status", "waiting_since", "resolved_at"])
    message_add_system(conversation=conversation, kind="resolved", by=by_name)
    previous = conversation.assigned_agent_id
    by = actor.agent_id if actor is not None else None
    told = [a for a in dict.fromkeys((previous, by)) if a]
    if told:  # its agent, and whoever resolved it
        conversation_changed(conversation=conversation, agent_ids=told, flush=False)
    if previous:
        transaction.on_commit(lambda: flush_agent.delay(previous), robust=True)  # room freed
    return conversation


def _after_offline_agent_message(conversation: Conversation) -> None:
    """Close the login race: if the right agent came online meanwhile, flush now."""
    from offline.tasks import flush_agent
    from routing.tasks import route_conversation

    agent_id = conversation.assigned_agent_id
    if agent_id is not None:
        if presence.is_online("agent", agent_id):
            flush_agent.delay(agent_id)
    elif conversation.group_id and routing_selectors.online_available_agents(
        [conversation.group_id]
    ):
        route_conversation.delay(str(conversation.id))  # this one only, not a sweep


@transaction.atomic
def message_send_by_agent(
    *,
    agent: Agent,
    conversation: Conversation,
    client_id: uuid.UUID,
    body: str,
    actor: access.Actor | None = None,
) -> SendResult:
    """Store an agent's reply (once per ``client_id``); a reply to a waiting one claims it.
    Whether ``agent`` may reply (``access``) is decided under the row lock: two agents
    claiming at once can't both win. ``actor``: the agent's standing, when the caller has
    read it (else it is read here).

    Raises ``NotAssigned``."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    existing = (
        Message.objects.filter(
            conversation=conversation, sender=Message.Sender.AGENT, client_id=client_id
        )
        .select_related("agent")
        .first()
    )
    if existing is not None:
        return SendResult(existing, created=False)
    actor = actor or access.actor_for(agent.user)
    if actor is None or actor.agent_id != agent.id:
        raise NotAssigned("Only agents reply to conversations.")
    if not access.may(actor, access.Action.REPLY, conversation):
        raise NotAssigned(access.refusal(actor, access.Action.REPLY, conversation))
    message = _append(
        conversation, sender=Message.Sender.AGENT, agent=agent, body=body, client_id=client_id
    )
    fields = [*APPENDED, "waiting_since", "agent_read_seq"]
    conversation.waiting_since = None
    if conversation.assigned_agent_id is None:
        conversation.assigned_agent = agent
        conversation.assigned_at = message.created_at
        fields += ["assigned_agent", "assigned_at"]
        routing_services.pending_work_follows(conversation_id=conversation.pk, agent_id=agent.id)
    # Replying means the agent has read what came before.
    _move_read_cursor(agent.id, conversation.pk, message.seq)
    if conversation.assigned_agent_id == agent.id:
        conversation.agent_read_seq = message.seq
    conversation.save(update_fields=fields)
    if not presence.is_online("visitor", conversation.visitor_id.hex):
        offline_services.offline_record(message=message, audience=OfflineMessage.Audience.VISITOR)
    events.send_event_on_commit(
        [events.visitor_group(conversation.visitor_id)],
        {"type": "message", "message": payloads.message(message, audience="visitor")},
    )
    events.send_event_on_commit(
        [events.agent_group(a) for a in {agent.id, conversation.assigned_agent_id} if a],
        {
            "type": "message",
            "message": payloads.message(message, audience="agent"),
            "conversation": selectors.conversation_summary_after(conversation, message),
        },
    )
    return SendResult(message, created=True)


@transaction.atomic
def _move_read_cursor(agent_id: int, conversation_id: uuid.UUID, seq: int) -> None:
    """An agent's own cursor: forward only (an upsert that never lowers it)."""
    cursor, created = ReadCursor.objects.get_or_create(
        agent_id=agent_id, conversation_id=conversation_id, defaults={"seq": seq}
    )
    if not created and cursor.seq < seq:
        ReadCursor.objects.filter(pk=cursor.pk).update(seq=Greatest("seq", Value(seq)))


@transaction.atomic
def conversation_mark_read(*, agent: Agent, conversation: Conversation, seq: int) -> None:
    """Move ``agent``'s own read cursor forward (never back, never past the end). It is the
    conversation's read state only when ``agent`` handles it: a manager or a colleague
    glancing at it leaves its agent's unread count alone. Every tab of the agent hears."""
    seq = max(0, min(seq, conversation.last_seq))
    _move_read_cursor(agent.id, conversation.pk, seq)
    moved = Conversation.objects.filter(
        pk=conversation.pk, assigned_agent=agent, agent_read_seq__lt=seq
    ).update(agent_read_seq=Greatest("agent_read_seq", Least(Value(seq), F("last_seq"))))
    if moved:  # the visitor's widget marks their messages "Seen"
        events.send_event_on_commit(
            [events.visitor_group(conversation.visitor_id)],
            {"type": "seen", "conversation_id": str(conversation.pk), "seq": seq},
        )
    events.send_event_on_commit(
        [events.agent_group(agent.id)],
        {
            "type": "conversation",
            "conversation": selectors.conversation_summary(conversation.id),
        },
    )


def visitor_receipt(
    *, visitor: Visitor, conversation_id: uuid.UUID, delivered_seq: int, seen_seq: int = 0
) -> bool:
    """Delivered and seen receipts from the visitor's side: forward only, never past the end,
    seen implies delivered. Tells the handling agent's tabs when anything moved. False: no
    such conversation of this visitor."""
    conversation = Conversation.objects.filter(pk=conversation_id, visitor=visitor).first()
    if conversation is None:
        return False
    delivered = max(delivered_seq, seen_seq)
    moved = (
        Conversation.objects.filter(pk=conversation.pk)
        .filter(
            Q(visitor_delivered_seq__lt=Least(Value(delivered), F("last_seq")))
            | Q(visitor_seen_seq__lt=Least(Value(seen_seq), F("last_seq")))
        )
        .update(
            visitor_delivered_seq=Greatest(
                "visitor_delivered_seq", Least(Value(delivered), F("last_seq"))
            ),
            visitor_seen_seq=Greatest("visitor_seen_seq", Least(Value(seen_seq), F("last_seq"))),
        )
    )
    if moved and conversation.assigned_agent_id:
        conversation.refresh_from_db(
            fields=["visitor_delivered_seq", "visitor_seen_seq", "assigned_agent"]
        )
        events.send_event_on_commit(
            [events.agent_group(conversation.assigned_agent_id)],
            {
                "type": "receipt",
                "conversation_id": str(conversation.pk),
                "delivered_seq": conversation.visitor_delivered_seq,
                "seen_seq": conversation.visitor_seen_seq,
            },
        )
    return True


def conversation_tag_add(*, conversation: Conversation, tag: Tag) -> None:
    """Tag from the back office (idempotent); the handling agent's tabs hear."""
    conversation.tags.add(tag)
    if conversation.assigned_agent_id:
        conversation_changed(
            conversation=conversation, agent_ids=[conversation.assigned_agent_id], flush=False
        )


def conversation_set_tags(
    *, agent: Agent, conversation: Conversation, tag_ids: list[int]
) -> Conversation:
    """Replace a conversation's tags (the caller checked the agent may see it). Unknown tag
    IDs are refused by the caller's validation; tags are defined by managers."""
    conversation.tags.set(Tag.objects.filter(pk__in=tag_ids))
    conversation_changed(
        conversation=conversation,
        agent_ids=[a for a in {agent.id, conversation.assigned_agent_id} if a],
        flush=False,
    )
    return conversation


def agent_came_online(*, agent_id: int) -> None:
    """First socket of an agent: flush their offline work, tell their sites' visitors."""
    from offline.tasks import flush_agent

    transaction.on_commit(lambda: flush_agent.delay(agent_id), robust=True)
    routing_services.online_session_start(agent_id=agent_id)
    routing_services.agent_presence_changed(agent_id=agent_id)


def agent_went_offline(*, agent_id: int) -> None:
    routing_services.online_session_end(agent_id=agent_id)
    routing_services.agent_presence_changed(agent_id=agent_id)
