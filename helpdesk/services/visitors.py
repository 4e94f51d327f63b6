"""Visitors: a session starts or resumes (by token, or as a host site's signed-in user), and
what a client is told when it does."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from helpdesk import files, ratelimit, selectors, tokens
from helpdesk.models import Channel, Conversation, Site, Visitor
from routing import selectors as routing_selectors


class UnknownSite(Exception):
    pass


@dataclass(frozen=True)
class VisitorContext:
    """What a client tells about the visitor at hello (for routing rules and local times)."""

    language: str = ""
    timezone: str = ""
    page_url: str = ""
    attributes: dict[str, Any] | None = None
    page_title: str = ""
    referrer: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class PendingVisitor:
    """Someone who said hello and has not written yet: no row until they do (a page load
    alone leaves nothing behind). ``visitor_create`` makes the row from this hello."""

    site: Site
    channel: str
    context: VisitorContext | None
    address: str  # who is counted against ``visitor_sessions`` at creation
    user_id: str = ""  # the host site signed it (identified), or ""
    name: str = ""
    # The ID the row will have: sockets subscribe to its events from hello, so nothing the
    # first write causes is missed; a pending HTTP token carries it.
    visitor_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class VisitorSession:
    site: Site
    visitor: Visitor | None  # None: pending (nothing written yet, no token)
    token: str | None
    pending: PendingVisitor | None = None


def visitor_session_from_hello(
    fields: dict[str, Any], *, address: str, site: Site | None = None, user_agent: str = ""
) -> VisitorSession:
    """``visitor_session_start`` from validated ``HelloIn`` fields (socket and HTTP alike).
    A hello without a token creates nothing: the session is pending until the first write.
    ``site``: the caller's own lookup of ``fields["site_key"]``, when it made one.

    Raises ``UnknownSite`` or ``tokens.InvalidToken``."""
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
        address=address,
        context=hello_context(fields, user_agent=user_agent),
    )


def hello_context(fields: dict[str, Any], *, user_agent: str) -> VisitorContext:
    """What validated ``HelloIn`` fields tell about the visitor."""
    return VisitorContext(
        language=fields["language"],
        timezone=fields["timezone"],
        page_url=fields["page_url"],
        attributes=fields["attributes"],
        page_title=fields.get("page_title", ""),
        referrer=fields.get("referrer", ""),
        user_agent=user_agent[:400],
    )


def visitor_welcome(session: VisitorSession, conversation: Conversation | None) -> dict[str, Any]:
    """What a visitor client is told when its session starts, the same over the socket (the
    ``welcome`` frame, which adds the catch-up) and HTTP (``POST /api/v1/visitor/session``)."""
    return welcome_of(
        session,
        conversation,
        agents_online=routing_selectors.site_has_online_agent(session.site.id),
        queue=routing_selectors.waiting_expectation(conversation) if conversation else None,
    )


def welcome_of(
    session: VisitorSession,
    conversation: Conversation | None,
    *,
    agents_online: bool,
    queue: dict[str, object] | None,
) -> dict[str, Any]:
    """``visitor_welcome`` from what it reads: whether anyone is on duty for the site, and
    where the conversation waits (``routing.selectors.waiting_expectation``)."""
    visitor, pending = session.visitor, session.pending
    return {
        "token": session.token,  # None while pending: the first write's welcome brings one
        "visitor_id": str(visitor.id) if visitor else None,
        "identified": bool(visitor.external_id if visitor else pending and pending.user_id),
        "site": {
            "name": session.site.name,
            "greeting": session.site.greeting,
            "color": session.site.color,
            "satisfaction": session.site.satisfaction,  # how to rate (helpdesk.satisfaction)
            # Send typing previews only where the site's agents see them.
            "typing_preview": session.site.typing_preview,
        },
        "attachments": files.limits(),
        "agents_online": agents_online,
        "conversation_id": str(conversation.id) if conversation else None,
        # How far the agent has read: the widget marks the visitor's messages "Seen".
        "read_seq": conversation.agent_read_seq if conversation else 0,
        "queue": queue,
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
    address: str = "",
) -> VisitorSession:
    """Resume the visitor named by ``token`` and issue a fresh token, or, for someone new,
    a pending session: no row until their first write (``visitor_create``).

    With a ``user_id`` the host site signed (``user_hash``), the visitor is that user on every
    device: their history follows them, and an anonymous visitor's conversations on this
    device join it. An identified visitor is resumed only with that proof, never by token
    alone (a shared computer after logout starts anonymous). A wrong or missing hash is
    ignored: the visitor stays anonymous and sees no one's history.

    Raises ``tokens.InvalidToken`` (a token for another site is invalid).
    """
    visitor, promised = None, None
    if token:
        claim = tokens.read(token)
        if claim.site_id != site.id:
            raise tokens.InvalidToken("The visitor token belongs to another site.")
        visitor = Visitor.objects.filter(pk=claim.visitor_id, site=site).first()
        if visitor is None and claim.pending is None:
            raise tokens.InvalidToken("The visitor token names no visitor.")
        promised = claim.visitor_id if claim.pending is not None else None
    verified = identity_verified(site, user_id, user_hash)
    if verified:
        visitor = _identified_visitor(site, user_id, channel, anonymous=visitor)
    elif visitor is not None and visitor.external_id:
        visitor = None  # an identified visitor's token, without the proof: start afresh
    if visitor is None:
        pending = PendingVisitor(
            site=site,
            channel=channel,
            context=context,
            address=address,
            user_id=user_id if verified else "",
            name=name,
            visitor_id=promised or uuid.uuid4(),
        )
        return VisitorSession(site=site, visitor=None, token=None, pending=pending)
    return _session(visitor, site, context=context, name=name)


def _session(
    visitor: Visitor, site: Site, *, context: VisitorContext | None, name: str
) -> VisitorSession:
    """The visitor seen now, with what this hello told; a fresh token."""
    updates = hello_updates(visitor, context=context, name=name)
    for field, value in updates.items():
        setattr(visitor, field, value)
    visitor.save(update_fields=list(updates))  # save(): encrypted fields and their indexes
    visitor.site = site
    return VisitorSession(
        site=site, visitor=visitor, token=tokens.issue(site_id=site.id, visitor_id=visitor.id)
    )


def hello_updates(visitor: Visitor, *, context: VisitorContext | None, name: str) -> dict[str, Any]:
    """What a hello changes on the visitor (field → new value): seen now, and what the hello
    told (the pages they saw, where they first came from, their name if the host site
    vouches for it), from the visitor's stored values."""
    updates: dict[str, Any] = {"last_seen_at": timezone.now()}
    if name and visitor.external_id:
        updates["name"] = name[:100]  # only what the host site vouches for
    if context is not None:
        updates |= {
            "language": context.language,
            "timezone": context.timezone,
            "page_url": context.page_url,
            "attributes": context.attributes or {},
            "pages": _pages_seen(visitor, context),
        }
        if context.user_agent:
            updates["user_agent"] = context.user_agent
        if context.referrer and not visitor.referrer:  # where they first came from
            updates["referrer"] = context.referrer[:500]
    return updates


@transaction.atomic
def visitor_create(*, pending: PendingVisitor) -> VisitorSession:
    """The row for someone who said hello and now writes: made from their hello, counted
    per address against ``visitor_sessions`` (``RateLimited``: nothing is made). Called in
    the transaction of that first write. A pending HTTP token's visitor that exists already
    (a second request with it) is that one, not counted again."""
    site = pending.site
    mine = {"external_id": pending.user_id} if pending.user_id else {"pk": pending.visitor_id}
    existing = Visitor.objects.filter(site=site, **mine).first()
    if existing is not None:
        return _session(existing, site, context=None, name="")
    ratelimit.hit("visitor_sessions", pending.address, what="new chats")
    # The ID promised at hello, unless a signed-in user's other device made them meanwhile.
    defaults = {"id": pending.visitor_id, "channel": pending.channel}
    if pending.user_id:
        visitor, _ = Visitor.objects.get_or_create(
            site=site, external_id=pending.user_id, defaults=defaults
        )
    else:
        visitor, _ = Visitor.objects.get_or_create(
            pk=pending.visitor_id, site=site, defaults=defaults
        )
    return _session(visitor, site, context=pending.context, name=pending.name)


W = TypeVar("W")


@transaction.atomic
def visitor_first_write(
    *, pending: PendingVisitor, write: Callable[[Visitor], W]
) -> tuple[VisitorSession, W]:
    """A pending visitor's first write (a message, an address): the row and the write commit
    together, or neither does (a refused write leaves no visitor behind)."""
    session = visitor_create(pending=pending)
    assert session.visitor is not None
    return session, write(session.visitor)


def pending_token(session: VisitorSession) -> str:
    """For HTTP, which keeps no connection: a signed token standing for the pending hello,
    with the visitor ID its first write will create (``pending_from_claim``)."""
    pending = session.pending
    assert pending is not None
    context = pending.context or VisitorContext()
    hello = {
        "c": pending.channel,
        "u": pending.user_id,
        "n": pending.name,
        "x": {
            "language": context.language,
            "timezone": context.timezone,
            "page_url": context.page_url,
            "attributes": context.attributes or {},
            "page_title": context.page_title,
            "referrer": context.referrer,
            "user_agent": context.user_agent,
        },
    }
    return tokens.issue_pending(site_id=session.site.id, visitor_id=pending.visitor_id, hello=hello)


def pending_from_claim(claim: tokens.VisitorClaim, *, address: str) -> PendingVisitor | None:
    """The pending hello a token carries (``pending_token``), or None (a plain token, or a
    site gone)."""
    hello = claim.pending
    site = Site.objects.filter(pk=claim.site_id).first()
    if hello is None or site is None:
        return None
    x = hello.get("x")
    if not isinstance(x, dict):
        x = {}
    return PendingVisitor(
        site=site,
        channel=str(hello.get("c") or Channel.WEB),
        context=VisitorContext(**{k: v for k, v in x.items() if k in _CONTEXT_FIELDS}),
        address=address,
        user_id=str(hello.get("u") or ""),
        name=str(hello.get("n") or ""),
        visitor_id=claim.visitor_id,
    )


_CONTEXT_FIELDS = set(VisitorContext.__dataclass_fields__)


PAGES_KEPT = 10


def _pages_seen(visitor: Visitor, context: VisitorContext) -> list[dict[str, Any]]:
    """The visitor's pages, newest first: this one added unless it is the newest already."""
    pages: list[dict[str, Any]] = (
        list(cast(list[dict[str, Any]], visitor.pages or []))
        if visitor.pk and not visitor._state.adding
        else []
    )
    if context.page_url and (not pages or pages[0].get("url") != context.page_url):
        pages.insert(
            0,
            {
                "url": context.page_url,
                "title": context.page_title[:200],
                "at": timezone.now().isoformat(),
            },
        )
    return pages[:PAGES_KEPT]


def visitor_correct(
    *, visitor: Visitor, name: str | None = None, email: str | None = None
) -> Visitor:
    """An agent corrects the visitor's name or email (the caller checked they may see one of
    the visitor's conversations). A changed email address is unconfirmed: follow-ups wait
    for the visitor to confirm it."""
    fields = []
    if name is not None and name != visitor.name:
        visitor.name = name[:100]
        fields.append("name")
    if email is not None and email.casefold() != (visitor.email or "").casefold():
        visitor.email, visitor.email_verified_at = email, None
        fields += ["email", "email_verified_at"]
    if fields:
        visitor.save(update_fields=fields)
    return visitor


@transaction.atomic
def _identified_visitor(
    site: Site, user_id: str, channel: str, *, anonymous: Visitor | None
) -> Visitor | None:
    """The signed-in user's visitor; made now only to take in an anonymous visitor's
    conversations on this device, else at their first write (None: not yet)."""
    visitor = Visitor.objects.filter(site=site, external_id=user_id).first()
    if visitor is None and (anonymous is None or anonymous.external_id):
        return None
    if visitor is None:
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
