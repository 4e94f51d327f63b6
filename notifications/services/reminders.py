"""Reminders, escalations and follow-ups: found by a scan, created once, checked again at send.

The beat runs ``scan`` every NOTIFY_SCAN_SECONDS. It finds what is due with indexed queries,
creates each notification row once (the unique key makes re-runs harmless), then delivers
pending rows per recipient: claimed with SKIP LOCKED, re-checked (read meanwhile? agent now
online? conversation taken?), and sent as one email per recipient listing every
conversation concerned."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from helpdesk import jobs
from helpdesk.models import Conversation, Message
from notifications.models import (
    AgentPreferences,
    Notification,
    PushSubscription,
)
from notifications.services.delivery import sendable
from notifications.services.mobile import NATIVE, native_channels
from notifications.services.push import push_enabled, users_with_push
from offline.models import OfflineMessage
from routing import presence
from routing import selectors as routing_selectors
from routing.hours import Hours, opened_at

log = logging.getLogger(__name__)
Reason, Status, Channel = Notification.Reason, Notification.Status, Notification.Channel


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
    due = sorted(set(sendable(now).values_list("recipient", "channel")))
    # One task per recipient and channel: workers send in parallel, a slow provider does not
    # hold up the scan, and a task run twice finds the rows claimed (SKIP LOCKED) or sent.
    for recipient, channel in due:
        jobs.enqueue_now(jobs.DELIVER_NOTIFICATION, recipient, channel)
    return {**{str(k): v for k, v in created.items()}, "deliveries": len(due)}


def _create(rows: Iterable[Notification]) -> int:
    rows = list(rows)
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


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
    delays: dict[str, int] = {}
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
    agents = {c.pk: c.assigned_agent for c in candidates if c.assigned_agent is not None}
    online = presence.online_agent_ids(a.pk for a in agents.values())
    with_push = users_with_push(a.user_id for a in agents.values())
    rows = []
    for conv in candidates:
        agent = agents[conv.pk]  # the query keeps assigned conversations only
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
            self.cache[key] = (users, users_with_push(u.pk for u in users))
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


def _due_visitor_followups(now: datetime) -> int:
    """An agent reply the visitor has not seen. On their phone if they have a channel there
    (``mobile.native_channels``: their app, else their mini-program), else by email if they
    confirmed an address; email also when the phone channel failed for good. And a push to
    every browser where they turned notifications on. One phone message per reply, however
    the visitor's channels change meanwhile."""
    email_after = timedelta(seconds=settings.NOTIFY_VISITOR_EMAIL_AFTER_SECONDS)
    push_after = timedelta(seconds=settings.NOTIFY_VISITOR_PUSH_AFTER_SECONDS)
    reachable = (
        Q(conversation__visitor__email_verified_at__isnull=False)
        | Q(conversation__visitor__devices__isnull=False)
        | Q(conversation__visitor__wechat__isnull=False)
    )
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
    if not first:
        return 0
    visitors = {r.conversation.visitor_id for r in first.values()}
    subscribed = (
        set(
            PushSubscription.objects.filter(visitor_id__in=visitors).values_list(
                "visitor_id", flat=True
            )
        )
        if push_enabled()
        else set()
    )
    phone = native_channels(visitors, now)
    # What each reply already had: its phone message (and how that went), its email.
    tried: dict[tuple[uuid.UUID, int], str] = {}
    emailed: set[tuple[uuid.UUID, int]] = set()
    for conv_id, level, channel, status in Notification.objects.filter(
        reason=Reason.VISITOR_REPLY,
        conversation_id__in=first,
        channel__in=(*NATIVE, Channel.EMAIL),
    ).values_list("conversation_id", "level", "channel", "status"):
        if channel == Channel.EMAIL:
            emailed.add((conv_id, level))
        else:
            tried[(conv_id, level)] = status
    rows = []
    for row in first.values():
        visitor = row.conversation.visitor
        key = (row.conversation_id, row.message.seq)
        base = {
            "recipient": f"visitor:{visitor.pk}",
            "reason": Reason.VISITOR_REPLY,
            "conversation": row.conversation,
            "level": row.message.seq,
        }
        native = phone.get(visitor.pk)
        if native and key not in tried and key not in emailed and row.created_at < now - push_after:
            rows.append(Notification(channel=native, **base))
        by_email = tried.get(key) == Status.FAILED or (key not in tried and native is None)
        if visitor.email_verified_at and by_email and row.created_at < now - email_after:
            # The visitor's address stays encrypted on the visitor; it is read at send time.
            rows.append(Notification(channel=Channel.EMAIL, **base))
        if visitor.pk in subscribed and row.created_at < now - push_after:
            rows.append(Notification(channel=Channel.PUSH, **base))
    return _create(rows)
