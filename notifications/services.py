"""Reminders, escalations and follow-ups: found by a scan, created once, checked again at send.

The beat runs ``scan`` every NOTIFY_SCAN_SECONDS. It finds what is due with indexed queries,
creates each notification row once (the unique key makes re-runs harmless), then delivers
pending rows per recipient: claimed with SKIP LOCKED, re-checked (read meanwhile? agent now
online? conversation taken?), and sent as one email per recipient listing every
conversation concerned.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.db.models import Exists, F, Min, OuterRef, Q, QuerySet, Subquery
from django.template.loader import render_to_string
from django.utils import timezone

from helpdesk import crypto, ratelimit
from helpdesk.models import Agent, Conversation, Message, Visitor
from notifications.inbound import reply_address
from notifications.models import (
    AgentPreferences,
    ManagerPreferences,
    Notification,
    PushSubscription,
    ResumeGrant,
)
from notifications.transports import (
    Email,
    EmailTransport,
    Push,
    PushTransport,
    TransportError,
    new_message_id,
)
from offline.models import OfflineMessage
from routing import presence
from routing import selectors as routing_selectors
from routing.hours import Hours, opened_at

log = logging.getLogger(__name__)
Reason, Status, Channel = Notification.Reason, Notification.Status, Notification.Channel
MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 30  # then 60, 120, 240… (at most an hour) between attempts
RESUME_SALT = "helpdesk.resume"
VERIFY_SALT = "helpdesk.verify-email"


def scan(*, now: datetime | None = None) -> dict[str, int]:
    """Create what is due, then deliver. Safe to run at any time, any number of times."""
    now = now or timezone.now()
    # Each team's hours and each audience's managers are looked up once for the whole tick.
    hours, audiences = routing_selectors.HoursCache(), _Audiences()
    created = {
        Reason.AGENT_UNREAD: _due_agent_reminders(now),
        Reason.ESCALATION: _due_escalations(now, hours, audiences),
        Reason.DIGEST: _due_digests(now, hours, audiences),
        Reason.VISITOR_REPLY: _due_visitor_followups(now),
    }
    due = sorted(set(_sendable(now).values_list("recipient", "channel")))
    # One task per recipient and channel: workers send in parallel, a slow provider does not
    # hold up the scan, and a task run twice finds the rows claimed (SKIP LOCKED) or sent.
    from notifications import tasks

    for recipient, channel in due:
        tasks.deliver.delay(recipient, channel)
    return {**{str(k): v for k, v in created.items()}, "deliveries": len(due)}


def _sendable(now: datetime) -> QuerySet[Notification]:
    """Rows to send now: pending (and past any backoff), or left "sending" by a dead worker."""
    stale = now - timedelta(seconds=settings.NOTIFY_SENDING_TIMEOUT_SECONDS)
    return Notification.objects.filter(
        Q(status=Status.PENDING, retry_at__isnull=True)
        | Q(status=Status.PENDING, retry_at__lte=now)
        | Q(status=Status.SENDING, sending_at__lt=stale)
    )


def _create(rows: Iterable[Notification]) -> int:
    rows = list(rows)
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def push_enabled() -> bool:
    return bool(settings.VAPID_PRIVATE_KEY)


def push_config() -> dict[str, Any]:
    """What a page needs to offer Web Push (staff pages and the widget alike)."""
    return {"enabled": push_enabled(), "public_key": settings.VAPID_PUBLIC_KEY}


def _users_with_push(user_ids: Iterable[int]) -> set[int]:
    if not push_enabled():
        return set()
    return set(
        PushSubscription.objects.filter(user_id__in=set(user_ids)).values_list("user_id", flat=True)
    )


# ---- agents: unread visitor messages ---------------------------------------------------------


def _first_unread() -> QuerySet[Message]:
    return Message.objects.filter(
        conversation=OuterRef("pk"),
        sender=Message.Sender.VISITOR,
        seq__gt=OuterRef("agent_read_seq"),
    ).order_by("seq")


def _in_quiet_hours(prefs: AgentPreferences | None, now: datetime) -> bool:
    if prefs is None or prefs.quiet_from is None or prefs.quiet_to is None:
        return False
    local: time = now.astimezone(ZoneInfo(prefs.timezone)).time()
    start, end = prefs.quiet_from, prefs.quiet_to
    return start <= local < end if start < end else local >= start or local < end


def _agent_delays(prefs: AgentPreferences | None) -> dict[str, int]:
    """Seconds from an unread message to each channel's reminder; absent: channel off."""
    delays = {}
    if prefs is None or prefs.email:
        minutes = prefs.email_after_minutes if prefs else None
        delays[Channel.EMAIL] = (
            minutes * 60 if minutes else settings.NOTIFY_AGENT_EMAIL_AFTER_SECONDS
        )
    if prefs is None or prefs.push:
        minutes = prefs.push_after_minutes if prefs else None
        delays[Channel.PUSH] = minutes * 60 if minutes else settings.NOTIFY_AGENT_PUSH_AFTER_SECONDS
    return delays


def _due_agent_reminders(now: datetime) -> int:
    """Unread by the assigned agent for longer than their delay: a push to their browsers
    (first, default 2 minutes), then an email if they are not connected (default 10)."""
    # The earliest any agent may be due: a default, or a shorter delay of their own.
    custom = AgentPreferences.objects.aggregate(
        e=Min("email_after_minutes"), p=Min("push_after_minutes")
    )
    shortest = min(
        settings.NOTIFY_AGENT_EMAIL_AFTER_SECONDS,
        settings.NOTIFY_AGENT_PUSH_AFTER_SECONDS if push_enabled() else 10**9,
        *(minutes * 60 for minutes in custom.values() if minutes is not None),
    )
    candidates = list(
        Conversation.objects.filter(
            status=Conversation.Status.OPEN,
            assigned_agent__isnull=False,
            waiting_since__lt=now - timedelta(seconds=shortest),
        )
        .annotate(
            unread_seq=Subquery(_first_unread().values("seq")[:1]),
            unread_at=Subquery(_first_unread().values("created_at")[:1]),
        )
        .filter(unread_seq__isnull=False)
        # Done with that message: its email (the last rung) exists. Steady ticks then
        # re-read nothing already sent.
        .exclude(
            Exists(
                Notification.objects.filter(
                    conversation=OuterRef("pk"),
                    reason=Reason.AGENT_UNREAD,
                    channel=Channel.EMAIL,
                    level=OuterRef("unread_seq"),
                )
            )
        )
        .select_related("assigned_agent__user", "assigned_agent__preferences")
    )
    agent_ids = {c.assigned_agent_id for c in candidates}
    online = presence.online_agent_ids(agent_ids)
    with_push = _users_with_push(c.assigned_agent.user_id for c in candidates)
    rows = []
    for conv in candidates:
        agent = conv.assigned_agent
        prefs = getattr(agent, "preferences", None)
        if _in_quiet_hours(prefs, now):
            continue
        for channel, delay in _agent_delays(prefs).items():
            if conv.unread_at > now - timedelta(seconds=delay):
                continue
            if channel == Channel.EMAIL and (agent.pk in online or not agent.user.email):
                continue  # connected: the inbox shows it; a push is the nudge
            if channel == Channel.PUSH and agent.user_id not in with_push:
                continue
            rows.append(
                Notification(
                    recipient=f"agent:{agent.pk}",
                    address=agent.user.email if channel == Channel.EMAIL else "",
                    reason=Reason.AGENT_UNREAD,
                    channel=channel,
                    conversation=conv,
                    level=conv.unread_seq,
                )
            )
    return _create(rows)


# ---- managers: conversations waiting with nobody on them -------------------------------------


def _managers(audience: str, group_id: int | None) -> list[Any]:
    users = (
        get_user_model().objects.filter(is_active=True).select_related("notification_preferences")
    )
    if audience == "group":
        users = users.filter(managed_agent_groups=group_id)
    else:
        users = users.filter(Q(managed_agent_groups__isnull=False) | Q(is_superuser=True))
    return list(users.distinct())


class _Audiences:
    """Managers per audience, and which of them have push, looked up once per scan (not once
    per conversation)."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, int | None], tuple[list[Any], set[int]]] = {}

    def __call__(self, audience: str, group_id: int | None) -> tuple[list[Any], set[int]]:
        key = (audience, group_id if audience == "group" else None)
        if key not in self.cache:
            users = _managers(audience, group_id)
            self.cache[key] = (users, _users_with_push(u.pk for u in users))
        return self.cache[key]


def _manager_rows(
    users: list[Any], reason: str, conv: Conversation, level: int, with_push: set[int]
) -> list[Notification]:
    rows = []
    for user in users:
        prefs = getattr(user, "notification_preferences", None)
        if user.email and (prefs is None or prefs.email):
            rows.append(
                Notification(
                    recipient=f"user:{user.pk}",
                    address=user.email,
                    reason=reason,
                    channel=Channel.EMAIL,
                    conversation=conv,
                    level=level,
                )
            )
        if user.pk in with_push and (prefs is None or prefs.push):
            rows.append(
                Notification(
                    recipient=f"user:{user.pk}",
                    reason=reason,
                    channel=Channel.PUSH,
                    conversation=conv,
                    level=level,
                )
            )
    return rows


def _ladder_start(conv: Conversation, hours: Hours | None, now: datetime) -> datetime | None:
    """When the escalation clock started for ``conv``: when it was queued, or under the
    "digest" and "none" off-hours policies, when the team's current shift began if later.
    None: off hours, and the policy waits for the shift."""
    assert conv.queued_at is not None
    if hours is None or settings.NOTIFY_OFF_HOURS == "ladder":
        return conv.queued_at
    shift_start = opened_at(hours, now)
    if shift_start is None:
        return None
    return max(conv.queued_at, shift_start)


def _due_escalations(
    now: datetime, hours: routing_selectors.HoursCache, audiences: _Audiences
) -> int:
    """Each ladder step once per conversation, recorded on it (``escalation_level``)."""
    ladder = settings.NOTIFY_ESCALATION_LADDER
    first_step = min(seconds for seconds, _ in ladder)
    waiting = list(
        Conversation.objects.filter(
            status=Conversation.Status.OPEN,
            assigned_agent__isnull=True,
            escalation_level__lt=len(ladder),
            queued_at__lt=now - timedelta(seconds=first_step),
        ).select_related("group")
    )
    # Conversations by the highest step now due: each group is claimed in one statement, so
    # a scan makes a fixed number of queries however many conversations wait.
    by_top: dict[int, list[tuple[Conversation, list[tuple[int, str]]]]] = {}
    for conv in waiting:
        started = _ladder_start(conv, hours(conv.group_id, conv.site_id), now)
        if started is None:
            continue
        due = [
            (level, audience)
            for level, (seconds, audience) in enumerate(ladder, start=1)
            if level > conv.escalation_level and started < now - timedelta(seconds=seconds)
        ]
        if due:
            by_top.setdefault(max(level for level, _ in due), []).append((conv, due))
    created = 0
    for top, group in by_top.items():
        with transaction.atomic():
            # Claimed (raised to ``top``) and recorded together: a concurrent scan, or one
            # that dies halfway, never notifies a step twice or loses one.
            claimed = set(
                Conversation.objects.select_for_update(skip_locked=True)
                .filter(
                    pk__in=[conv.pk for conv, _ in group],
                    escalation_level__lt=top,
                    assigned_agent__isnull=True,
                )
                .values_list("pk", flat=True)
            )
            Conversation.objects.filter(pk__in=claimed).update(escalation_level=top)
            rows: list[Notification] = []
            for conv, due in group:
                for level, audience in due if conv.pk in claimed else []:
                    users, with_push = audiences(audience, conv.group_id)
                    rows += _manager_rows(users, Reason.ESCALATION, conv, level, with_push)
            created += _create(rows)
    return created


# How long after a shift starts the digest of what waited through off hours is still made.
DIGEST_WINDOW = timedelta(hours=1)


def _due_digests(now: datetime, hours: routing_selectors.HoursCache, audiences: _Audiences) -> int:
    """Under the "digest" policy: when a team's shift starts, its group's managers get one
    email (and push) listing every conversation that waited through the off hours and still
    has nobody. ``level`` is the shift start in minutes, so each shift makes its own digest."""
    if settings.NOTIFY_OFF_HOURS != "digest":
        return 0
    rows = []
    waiting = Conversation.objects.filter(
        status=Conversation.Status.OPEN,
        assigned_agent__isnull=True,
        group__isnull=False,
        queued_at__lt=now,
    ).select_related("group")
    for conv in waiting:
        team_hours = hours(conv.group_id, conv.site_id)
        shift_start = opened_at(team_hours, now) if team_hours else None
        if shift_start is None or now - shift_start > DIGEST_WINDOW:
            continue
        if conv.queued_at is None or conv.queued_at >= shift_start:
            continue
        users, with_push = audiences("group", conv.group_id)
        level = int(shift_start.timestamp() // 60)
        rows += _manager_rows(users, Reason.DIGEST, conv, level, with_push)
    return _create(rows)


# ---- visitors: agent replies they have not seen ----------------------------------------------


def _due_visitor_followups(now: datetime) -> int:
    """An agent reply the visitor has not seen: email if they confirmed an address, a push
    to every browser where they turned notifications on."""
    email_after = timedelta(seconds=settings.NOTIFY_VISITOR_EMAIL_AFTER_SECONDS)
    push_after = timedelta(seconds=settings.NOTIFY_VISITOR_PUSH_AFTER_SECONDS)
    reachable = Q(conversation__visitor__email_verified_at__isnull=False)
    if push_enabled():
        reachable |= Q(conversation__visitor__push_subscriptions__isnull=False)
    unseen = (
        OfflineMessage.objects.filter(
            reachable,
            audience=OfflineMessage.Audience.VISITOR,
            state=OfflineMessage.State.PENDING,
            created_at__lt=now - min(email_after, push_after),
        )
        .select_related("conversation__visitor", "message")
        .distinct()
    )
    first: dict[uuid.UUID, OfflineMessage] = {}
    for row in unseen.order_by("created_at"):
        first.setdefault(row.conversation_id, row)
    subscribed = (
        set(
            PushSubscription.objects.filter(
                visitor_id__in={r.conversation.visitor_id for r in first.values()}
            ).values_list("visitor_id", flat=True)
        )
        if push_enabled()
        else set()
    )
    rows = []
    for row in first.values():
        visitor = row.conversation.visitor
        base = {
            "recipient": f"visitor:{visitor.pk}",
            "reason": Reason.VISITOR_REPLY,
            "conversation": row.conversation,
            "level": row.message.seq,
        }
        if visitor.email_verified_at and row.created_at < now - email_after:
            # The visitor's address stays encrypted on the visitor; it is read at send time.
            rows.append(Notification(channel=Channel.EMAIL, **base))
        if visitor.pk in subscribed and row.created_at < now - push_after:
            rows.append(Notification(channel=Channel.PUSH, **base))
    return _create(rows)


# ---- delivery ----------------------------------------------------------------------------------


def _still_relevant(n: Notification) -> bool:
    """Checked again at send time, against the database and presence as they are now."""
    conv = n.conversation
    if n.reason == Reason.VISITOR_REPLY:
        # An answer the visitor has not seen goes out even once resolved (an agent often
        # answers and resolves at once); the email then asks for a rating (satisfaction).
        return OfflineMessage.objects.filter(
            conversation=conv,
            audience=OfflineMessage.Audience.VISITOR,
            state=OfflineMessage.State.PENDING,
        ).exists()
    if conv.status != Conversation.Status.OPEN:
        return False
    if n.reason == Reason.AGENT_UNREAD:
        agent_id = int(n.recipient.split(":")[1])
        if conv.assigned_agent_id != agent_id or conv.agent_read_seq >= n.level:
            return False  # read in time (an open, visible conversation is read as it arrives)
        return n.channel == Channel.PUSH or not presence.online_agent_ids([agent_id])
    return conv.assigned_agent_id is None  # an escalation or a digest


def deliver(*, recipient: str, channel: str = Channel.EMAIL, now: datetime | None = None) -> int:
    """Send one email, or one push to each of the recipient's browsers, with everything due
    for ``recipient`` on ``channel``. Returns 1 if it went out, else 0.

    Three steps, so a worker killed at any point loses nothing and repeats nothing it can
    avoid: (1) claim the rows and mark them ``sending`` with a message ID, committed; (2) call
    the provider, outside any transaction; (3) mark them ``sent``. Rows left ``sending`` by a
    dead worker are retried after NOTIFY_SENDING_TIMEOUT_SECONDS with the same ID (an
    email's Message-ID; a push's Topic, which makes the push service replace, not stack).
    """
    now = now or timezone.now()
    claimed = _claim_for_sending(recipient, channel, now)
    if not claimed:
        return 0
    items, message_id = claimed
    ids = [n.pk for n in items]
    partial = ""
    try:
        if channel == Channel.PUSH:
            provider_id, partial = _send_push(recipient, items, message_id)
        else:
            provider_id = EmailTransport().send(_compose(recipient, items, message_id))
    except TransportError as exc:
        attempts = max(n.attempts for n in items)
        failed = exc.permanent or attempts >= MAX_ATTEMPTS
        backoff = timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** (attempts - 1), 3600))
        Notification.objects.filter(pk__in=ids).update(
            error=str(exc)[:2000],
            status=Status.FAILED if failed else Status.PENDING,
            sending_at=None,
            retry_at=None if failed else timezone.now() + backoff,
        )
        log.warning("%s to %s failed (attempt %s): %s", channel, recipient, attempts, exc)
        return 0
    Notification.objects.filter(pk__in=ids, status=Status.SENDING).update(
        status=Status.SENT,
        sent_at=timezone.now(),
        provider_message_id=provider_id[:255],
        error=partial[:2000],
    )
    return 1


@transaction.atomic
def _claim_for_sending(
    recipient: str, channel: str, now: datetime
) -> tuple[list[Notification], str] | None:
    rows = list(
        _sendable(now)
        .select_for_update(skip_locked=True, of=("self",))
        .filter(recipient=recipient, channel=channel)
        .select_related("conversation__visitor", "conversation__site", "conversation__group")
        .order_by("created_at")
    )
    unfinished = [n for n in rows if n.status == Status.SENDING]
    if unfinished:
        # A worker died mid-send: send that message again, as it was, with its ID.
        message_id = unfinished[0].provider_message_id
        items = [n for n in unfinished if n.provider_message_id == message_id]
    else:
        # Emails: one per recipient per window; the next scan batches what came meanwhile.
        # Pushes go out on every scan, one per recipient and browser, batched the same way.
        window = timedelta(seconds=settings.NOTIFY_EMAIL_WINDOW_SECONDS)
        if not rows or (
            channel == Channel.EMAIL
            and Notification.objects.filter(
                recipient=recipient,
                status=Status.SENT,
                channel=Channel.EMAIL,
                sent_at__gt=now - window,
            ).exists()
        ):
            return None
        items = [n for n in rows if _still_relevant(n)]
        Notification.objects.filter(pk__in=[n.pk for n in rows if n not in items]).update(
            status=Status.SKIPPED
        )
        message_id = new_message_id() if channel == Channel.EMAIL else uuid.uuid4().hex
    if not items:
        return None
    for n in items:
        n.attempts += 1
    Notification.objects.filter(pk__in=[n.pk for n in items]).update(
        status=Status.SENDING,
        sending_at=now,
        provider_message_id=message_id,
        attempts=F("attempts") + 1,
    )
    return items, message_id


def _template_name(items: list[Notification]) -> str:
    if all(n.reason == Reason.DIGEST for n in items):
        return "digest"
    reason = items[0].reason
    return "escalation" if reason == Reason.DIGEST else str(reason)


def _context(recipient: str, items: list[Notification]) -> dict[str, Any]:
    kind, _, ident = recipient.partition(":")
    # One line per conversation, even when two ladder steps fell due together.
    unique = list({n.conversation_id: n for n in items}.values())
    context: dict[str, Any] = {
        "lang": _language(kind, ident),
        "items": unique,
        "base": settings.PUBLIC_BASE_URL,
        "count": len(unique),
    }
    if items[0].reason == Reason.VISITOR_REPLY:
        visitor = items[0].conversation.visitor
        conv = items[0].conversation
        context |= {
            "site": conv.site,
            "show_text": conv.site.email_includes_reply,
            "recent": list(
                conv.messages.exclude(sender=Message.Sender.SYSTEM)
                .select_related("agent")
                .order_by("-seq")[:5]
            )[::-1],
            "resume_url": resume_link(visitor),
        }
    return context


def _compose(recipient: str, items: list[Notification], message_id: str) -> Email:
    context = _context(recipient, items)
    name = _template_name(items)
    subject = render_to_string(f"notifications/{name}_subject.txt", context).strip()
    headers = {}
    if items[0].reason == Reason.VISITOR_REPLY and (
        reply_to := reply_address(items[0].conversation_id)
    ):
        headers["Reply-To"] = reply_to
    return Email(
        to=items[0].address or items[0].conversation.visitor.email,
        message_id=message_id,
        headers=headers,
        subject=subject,
        text=render_to_string(f"notifications/{name}.txt", context),
        html=render_to_string(f"notifications/{name}.html", context),
    )


def _push_payload(recipient: str, items: list[Notification]) -> dict[str, object]:
    """What the service worker shows: the email's subject as the title, a line of body, and
    where a click goes. Visitors see the reply's text only if the site allows it."""
    context = _context(recipient, items)
    name = _template_name(items)
    kind = recipient.partition(":")[0]
    base, conv = settings.PUBLIC_BASE_URL, items[0].conversation
    if context["count"] == 1 and kind in ("agent", "visitor"):
        # The line worth reading on a lock screen: the visitor's last message, or the reply.
        sender = Message.Sender.VISITOR if kind == "agent" else Message.Sender.AGENT
        context["latest"] = conv.messages.filter(sender=sender).order_by("-seq").first()
    if kind == "visitor":
        url = context["resume_url"]
    elif kind == "agent":
        url = f"{base}/inbox/{conv.pk}/" if context["count"] == 1 else f"{base}/inbox/"
    elif context["count"] == 1:
        url = f"{base}/admin/helpdesk/conversation/{conv.pk}/change/"
    else:
        url = f"{base}/admin/helpdesk/conversation/?assigned_agent__isnull=True&status=open"
    return {
        "title": render_to_string(f"notifications/{name}_subject.txt", context).strip(),
        "body": render_to_string("notifications/push_body.txt", context | {"name": name}).strip()[
            :300
        ],
        "url": url,
        "tag": f"helpdesk-{name}",
        "conversations": sorted({str(n.conversation_id) for n in items}),
    }


def _subscriptions_of(recipient: str) -> list[PushSubscription]:
    kind, _, ident = recipient.partition(":")
    subscriptions = PushSubscription.objects.order_by("pk")
    if kind == "visitor":
        return list(subscriptions.filter(visitor_id=uuid.UUID(ident)))
    if kind == "agent":
        return list(subscriptions.filter(user__agent__pk=int(ident)))
    return list(subscriptions.filter(user_id=int(ident)))


def _send_push(recipient: str, items: list[Notification], topic: str) -> tuple[str, str]:
    """One push to each of the recipient's browsers. A browser whose push service answers
    404 or 410 has unsubscribed: its subscription is deleted, and never retried. Sent if any
    browser accepted it (the others' errors are kept on the row); else the errors decide."""
    if not push_enabled():
        raise TransportError("Web Push is off (no VAPID keys)", permanent=True)
    subscriptions = _subscriptions_of(recipient)
    if not subscriptions:
        raise TransportError("no browser has push turned on", permanent=True)
    payload = _push_payload(recipient, items)
    accepted: list[str] = []
    errors: list[TransportError] = []
    delivered, gone = [], []
    for sub in subscriptions:
        try:
            accepted.append(
                PushTransport().send(
                    Push(sub.endpoint, sub.p256dh, sub.auth, payload=payload, topic=topic)
                )
                or topic
            )
            delivered.append(sub.pk)
        except TransportError as exc:
            if exc.gone:
                gone.append(sub.pk)
                log.info("push subscription %s is gone; deleting it", sub.pk)
            errors.append(exc)
    PushSubscription.objects.filter(pk__in=delivered).update(last_success_at=timezone.now())
    PushSubscription.objects.filter(pk__in=gone).delete()
    summary = "; ".join(str(e) for e in errors)
    if accepted:
        return accepted[0], summary
    raise TransportError(summary, permanent=all(e.permanent for e in errors))


def _language(kind: str, ident: str) -> str:
    """The language a recipient reads: their preference (staff), or their browser's (visitor)."""
    if kind == "visitor":
        return _visitor_language(
            Visitor.objects.filter(pk=ident).values_list("language", flat=True).first() or ""
        )
    prefs = AgentPreferences.objects.filter(agent_id=ident)
    if kind == "user":
        prefs = ManagerPreferences.objects.filter(user_id=ident)
    return prefs.values_list("language", flat=True).first() or "en"


def _visitor_language(browser_language: str) -> str:
    """Our two languages: Simplified Chinese for any zh-* browser, else English."""
    return "zh-hans" if browser_language.lower().startswith("zh") else "en"


# ---- preferences --------------------------------------------------------------------------------


def set_agent_preferences(*, agent: Agent, **fields: Any) -> AgentPreferences:
    prefs, _ = AgentPreferences.objects.update_or_create(agent=agent, defaults=fields)
    return prefs


def set_manager_preferences(*, user: Any, **fields: Any) -> ManagerPreferences:
    prefs, _ = ManagerPreferences.objects.update_or_create(user=user, defaults=fields)
    return prefs


# ---- push subscriptions ------------------------------------------------------------------------


def push_subscribe(
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    user: Any = None,
    visitor: Visitor | None = None,
    user_agent: str = "",
) -> PushSubscription:
    """Remember a browser for ``user`` or ``visitor``. The endpoint names the browser: if
    someone else subscribed it before (another person signed in there), it is theirs no more."""
    assert (user is None) != (visitor is None)
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "p256dh": p256dh,
            "auth": auth,
            "user": user,
            "visitor": visitor,
            "user_agent": user_agent[:300],
        },
    )
    return subscription


def push_unsubscribe(*, endpoint: str, user: Any = None, visitor: Visitor | None = None) -> int:
    """Forget a browser; only its owner may. Returns how many were deleted (0 or 1)."""
    owner = Q(user=user) if user is not None else Q(visitor=visitor)
    deleted, _ = PushSubscription.objects.filter(owner, endpoint=endpoint).delete()
    return deleted


# ---- visitor email: leave, verify, resume ------------------------------------------------------


def visitor_email_set(*, visitor: Visitor, email: str) -> None:
    """Store the address (unverified) and send the verification link. Counted per visitor
    and per address before anything changes (``RateLimited``)."""
    ratelimit.hit("visitor_emails", visitor.pk.hex, what="confirmation emails")
    ratelimit.hit(
        "email_confirmations", crypto.blind(email, "email"), what="emails to this address"
    )
    visitor.email = email
    visitor.email_verified_at = None
    visitor.save(update_fields=["email", "email_verified_at"])
    # The link names the address by its keyed hash: no email address in URLs (or logs).
    token = signing.dumps({"v": visitor.pk.hex, "h": visitor.email_hash}, salt=VERIFY_SALT)
    context = {
        "lang": _visitor_language(visitor.language),
        "url": f"{settings.PUBLIC_BASE_URL}/v/verify/{token}/",
        "site": visitor.site,
    }
    mail = Email(
        to=email,
        subject=render_to_string("notifications/verify_subject.txt", context).strip(),
        text=render_to_string("notifications/verify.txt", context),
        html=render_to_string("notifications/verify.html", context),
    )
    transaction.on_commit(lambda: _send_quietly(mail), robust=True)


def _send_quietly(mail: Email) -> None:
    try:
        EmailTransport().send(mail)
    except TransportError as exc:
        log.warning("verification email to %s failed: %s", mail.to, exc)


def visitor_email_verify(*, token: str, max_age_days: int = 7) -> Visitor | None:
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=max_age_days * 86400)
    except signing.BadSignature:
        return None
    updated = Visitor.objects.filter(pk=uuid.UUID(data["v"]), email_hash=data.get("h")).update(
        email_verified_at=timezone.now()
    )
    return Visitor.objects.get(pk=uuid.UUID(data["v"])) if updated else None


# ---- resuming on another device: one-time links and codes ------------------------------------

RESUME_LINK_DAYS = 30
RESUME_CODE_MINUTES = 15
RESUME_CODE_ATTEMPTS = 5
RESUME_CODES_PER_HOUR = 3


def _grant_hash(visitor_id: uuid.UUID, secret: str) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}:{visitor_id.hex}:{secret}".encode()).hexdigest()


def resume_link(visitor: Visitor) -> str:
    """A signed link that opens the visitor's chat on any device, once, within 30 days."""
    nonce = secrets.token_urlsafe(16)
    ResumeGrant.objects.create(
        visitor=visitor,
        kind=ResumeGrant.Kind.LINK,
        secret_hash=_grant_hash(visitor.pk, nonce),
        expires_at=timezone.now() + timedelta(days=RESUME_LINK_DAYS),
    )
    token = signing.dumps({"v": visitor.pk.hex, "n": nonce}, salt=RESUME_SALT)
    # In the fragment: browsers never send it, so no access log or proxy keeps the link.
    return f"{settings.PUBLIC_BASE_URL}/r/#{token}"


def _link_grant(token: str) -> QuerySet[ResumeGrant] | None:
    try:
        data = signing.loads(token, salt=RESUME_SALT, max_age=RESUME_LINK_DAYS * 86400)
        visitor_id = uuid.UUID(data["v"])
        nonce = str(data["n"])
    except (signing.BadSignature, KeyError, ValueError, TypeError):
        return None
    return ResumeGrant.objects.filter(
        visitor_id=visitor_id,
        kind=ResumeGrant.Kind.LINK,
        secret_hash=_grant_hash(visitor_id, nonce),
        used_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def resume_visitor(*, token: str) -> Visitor | None:
    """Whose link this is, if it is still good (a look: it does not use the link up)."""
    grants = _link_grant(token)
    grant = grants.select_related("visitor__site").first() if grants is not None else None
    return grant.visitor if grant else None


def resume_redeem(*, token: str) -> Visitor | None:
    """Use the link up (once, even under concurrent clicks) and return its visitor."""
    grants = _link_grant(token)
    if grants is None:
        return None
    grant = grants.select_related("visitor__site").first()
    if grant is None or not grants.filter(pk=grant.pk).update(used_at=timezone.now()):
        return None
    return grant.visitor


def _verified_visitors(site_id: uuid.UUID, email: str) -> QuerySet[Visitor]:
    return Visitor.objects.filter(
        site_id=site_id,
        email_hash=crypto.blind(email, "email"),
        email_verified_at__isnull=False,
    )


def resume_code_request(*, site: Any, email: str) -> None:
    """Email a 6-digit code to a confirmed address of this site's visitors. Says nothing
    about whether the address is known (the caller answers the same either way), and sends
    at most three codes an hour."""
    visitor = _verified_visitors(site.pk, email).order_by("-last_seen_at", "-created_at").first()
    if visitor is None:
        return
    hour_ago = timezone.now() - timedelta(hours=1)
    if (
        ResumeGrant.objects.filter(
            visitor=visitor, kind=ResumeGrant.Kind.CODE, created_at__gt=hour_ago
        ).count()
        >= RESUME_CODES_PER_HOUR
    ):
        log.info("resume codes for visitor %s: hourly limit reached", visitor.pk)
        return
    code = f"{secrets.randbelow(10**6):06d}"
    ResumeGrant.objects.create(
        visitor=visitor,
        kind=ResumeGrant.Kind.CODE,
        secret_hash=_grant_hash(visitor.pk, code),
        expires_at=timezone.now() + timedelta(minutes=RESUME_CODE_MINUTES),
    )
    context = {
        "lang": _visitor_language(visitor.language),
        "code": code,
        "minutes": RESUME_CODE_MINUTES,
        "site": site,
    }
    mail = Email(
        to=visitor.email,
        subject=render_to_string("notifications/resume_code_subject.txt", context).strip(),
        text=render_to_string("notifications/resume_code.txt", context),
        html=render_to_string("notifications/resume_code.html", context),
    )
    transaction.on_commit(lambda: _send_quietly(mail), robust=True)


@transaction.atomic
def resume_code_confirm(*, site: Any, email: str, code: str) -> Visitor | None:
    """The visitor whose code this is, using it up; None for a wrong, used or expired code.
    Each code allows five tries."""
    now = timezone.now()
    grants = list(
        ResumeGrant.objects.select_for_update()
        .filter(
            visitor__in=_verified_visitors(site.pk, email),
            kind=ResumeGrant.Kind.CODE,
            used_at__isnull=True,
            expires_at__gt=now,
            attempts__lt=RESUME_CODE_ATTEMPTS,
        )
        .select_related("visitor__site")
    )
    code = code.strip()
    for grant in grants:
        if hmac.compare_digest(grant.secret_hash, _grant_hash(grant.visitor_id, code)):
            ResumeGrant.objects.filter(pk=grant.pk).update(used_at=now)
            return grant.visitor
    ResumeGrant.objects.filter(pk__in=[g.pk for g in grants]).update(attempts=F("attempts") + 1)
    return None
