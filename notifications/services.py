"""Reminders, escalations and follow-ups: found by a scan, created once, checked again at send.

The beat runs ``scan`` every NOTIFY_SCAN_SECONDS. It finds what is due with indexed queries,
creates each notification row once (the unique key makes re-runs harmless), then delivers
pending rows per recipient: claimed with SKIP LOCKED, re-checked (read meanwhile? agent now
online? conversation taken?), and sent as one email per recipient listing every
conversation concerned.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.db.models import F, Min, OuterRef, Q, QuerySet, Subquery
from django.template.loader import render_to_string
from django.utils import timezone

from helpdesk.models import Agent, Conversation, Message, Visitor
from notifications.inbound import reply_address
from notifications.models import AgentPreferences, ManagerPreferences, Notification
from notifications.transports import Email, EmailTransport, TransportError, new_message_id
from offline.models import OfflineMessage
from routing import presence
from routing import selectors as routing_selectors

log = logging.getLogger(__name__)
Reason, Status, Channel = Notification.Reason, Notification.Status, Notification.Channel
MAX_ATTEMPTS = 5
RESUME_SALT = "helpdesk.resume"
VERIFY_SALT = "helpdesk.verify-email"


def scan(*, now: datetime | None = None) -> dict[str, int]:
    """Create what is due, then deliver. Safe to run at any time, any number of times."""
    now = now or timezone.now()
    created = {
        Reason.AGENT_UNREAD: _due_agent_reminders(now),
        Reason.ESCALATION: _due_escalations(now),
        Reason.VISITOR_REPLY: _due_visitor_followups(now),
    }
    stale = now - timedelta(seconds=settings.NOTIFY_SENDING_TIMEOUT_SECONDS)
    recipients = set(
        Notification.objects.filter(channel=Channel.EMAIL)
        .filter(Q(status=Status.PENDING) | Q(status=Status.SENDING, sending_at__lt=stale))
        .values_list("recipient", flat=True)
    )
    sent = sum(deliver(recipient=r, now=now) for r in sorted(recipients))
    return {**{str(k): v for k, v in created.items()}, "emails": sent}


def _create(rows: Iterable[Notification]) -> int:
    rows = list(rows)
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


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


def _agent_wants_email(agent: Agent, now: datetime) -> bool:
    prefs = getattr(agent, "preferences", None)
    if prefs is not None and not prefs.email:
        return False
    return bool(agent.user.email) and not _in_quiet_hours(prefs, now)


def _due_agent_reminders(now: datetime) -> int:
    """Unread by the assigned agent for longer than their delay, the agent not connected."""
    # The earliest any agent may be due: the default, or a shorter delay of their own.
    custom = AgentPreferences.objects.aggregate(m=Min("email_after_minutes"))["m"]
    shortest = settings.NOTIFY_AGENT_EMAIL_AFTER_SECONDS
    if custom is not None:
        shortest = min(shortest, custom * 60)
    candidates = (
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
        .select_related("assigned_agent__user", "assigned_agent__preferences")
    )
    candidates = list(candidates)
    offline_agents = {c.assigned_agent_id for c in candidates} - presence.online_agent_ids(
        c.assigned_agent_id for c in candidates
    )
    rows = []
    for conv in candidates:
        agent = conv.assigned_agent
        prefs = getattr(agent, "preferences", None)
        delay = (
            (prefs.email_after_minutes * 60)
            if prefs and prefs.email_after_minutes
            else settings.NOTIFY_AGENT_EMAIL_AFTER_SECONDS
        )
        if agent.pk not in offline_agents or conv.unread_at > now - timedelta(seconds=delay):
            continue
        if not _agent_wants_email(agent, now):
            continue
        rows.append(
            Notification(
                recipient=f"agent:{agent.pk}",
                address=agent.user.email,
                reason=Reason.AGENT_UNREAD,
                channel=Channel.EMAIL,
                conversation=conv,
                level=conv.unread_seq,
            )
        )
    return _create(rows)


# ---- managers: conversations waiting with nobody on them -------------------------------------


def _managers(audience: str, group_id: int | None) -> list[Any]:
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    if audience == "group":
        users = users.filter(managed_agent_groups=group_id)
    else:
        users = users.filter(Q(managed_agent_groups__isnull=False) | Q(is_superuser=True))
    return list(users.distinct())


def _due_escalations(now: datetime) -> int:
    """Each ladder step once per conversation, during the group's business hours."""
    rows = []
    for level, (seconds, audience) in enumerate(settings.NOTIFY_ESCALATION_LADDER, start=1):
        due = list(
            Conversation.objects.filter(
                status=Conversation.Status.OPEN,
                assigned_agent__isnull=True,
                escalation_level__lt=level,
                queued_at__lt=now - timedelta(seconds=seconds),
            ).select_related("group")
        )
        for conv in due:
            if routing_selectors.team_next_in(conv, now) is not None:
                continue  # off duty: the team hears of it when its hours start (see docs)
            with transaction.atomic():
                claimed = Conversation.objects.filter(
                    pk=conv.pk, escalation_level__lt=level
                ).update(escalation_level=level)
                if not claimed:
                    continue
                rows += [
                    Notification(
                        recipient=f"user:{user.pk}",
                        address=user.email,
                        reason=Reason.ESCALATION,
                        channel=Channel.EMAIL,
                        conversation=conv,
                        level=level,
                    )
                    for user in _managers(audience, conv.group_id)
                    if getattr(getattr(user, "notification_preferences", None), "email", True)
                ]
    return _create(rows)


# ---- visitors: agent replies they have not seen ----------------------------------------------


def _due_visitor_followups(now: datetime) -> int:
    unseen = OfflineMessage.objects.filter(
        audience=OfflineMessage.Audience.VISITOR,
        state=OfflineMessage.State.PENDING,
        created_at__lt=now - timedelta(seconds=settings.NOTIFY_VISITOR_EMAIL_AFTER_SECONDS),
        conversation__visitor__email_verified_at__isnull=False,
    ).select_related("conversation__visitor", "message")
    first: dict[uuid.UUID, OfflineMessage] = {}
    for row in unseen.order_by("created_at"):
        first.setdefault(row.conversation_id, row)
    return _create(
        Notification(
            recipient=f"visitor:{row.conversation.visitor_id}",
            address=row.conversation.visitor.email,
            reason=Reason.VISITOR_REPLY,
            channel=Channel.EMAIL,
            conversation=row.conversation,
            level=row.message.seq,
        )
        for row in first.values()
    )


# ---- delivery ----------------------------------------------------------------------------------


def _still_relevant(n: Notification) -> bool:
    """Checked again at send time, against the database and presence as they are now."""
    conv = n.conversation
    if conv.status != Conversation.Status.OPEN:
        return False
    if n.reason == Reason.AGENT_UNREAD:
        agent_id = int(n.recipient.split(":")[1])
        return (
            conv.assigned_agent_id == agent_id
            and conv.agent_read_seq < n.level
            and not presence.online_agent_ids([agent_id])
        )
    if n.reason == Reason.ESCALATION:
        return conv.assigned_agent_id is None
    return OfflineMessage.objects.filter(
        conversation=conv,
        audience=OfflineMessage.Audience.VISITOR,
        state=OfflineMessage.State.PENDING,
    ).exists()


def deliver(*, recipient: str, now: datetime | None = None) -> int:
    """Send one email with everything due for ``recipient`` (0 or 1 emails).

    Three steps, so a worker killed at any point loses nothing and repeats nothing it can
    avoid: (1) claim the rows and mark them ``sending`` with a Message-ID, committed; (2) call
    the provider, outside any transaction; (3) mark them ``sent``. Rows left ``sending`` by a
    dead worker are retried after NOTIFY_SENDING_TIMEOUT_SECONDS with the same Message-ID.
    """
    now = now or timezone.now()
    claimed = _claim_for_sending(recipient, now)
    if not claimed:
        return 0
    items, message_id = claimed
    ids = [n.pk for n in items]
    try:
        provider_id = EmailTransport().send(_compose(recipient, items, message_id))
    except TransportError as exc:
        attempts = max(n.attempts for n in items)
        failed = exc.permanent or attempts >= MAX_ATTEMPTS
        Notification.objects.filter(pk__in=ids).update(
            error=str(exc)[:2000],
            status=Status.FAILED if failed else Status.PENDING,
            sending_at=None,
        )
        log.warning("email to %s failed (attempt %s): %s", recipient, attempts, exc)
        return 0
    Notification.objects.filter(pk__in=ids, status=Status.SENDING).update(
        status=Status.SENT, sent_at=timezone.now(), provider_message_id=provider_id[:255]
    )
    return 1


@transaction.atomic
def _claim_for_sending(recipient: str, now: datetime) -> tuple[list[Notification], str] | None:
    stale = now - timedelta(seconds=settings.NOTIFY_SENDING_TIMEOUT_SECONDS)
    rows = list(
        Notification.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(recipient=recipient, channel=Channel.EMAIL)
        .filter(Q(status=Status.PENDING) | Q(status=Status.SENDING, sending_at__lt=stale))
        .select_related("conversation__visitor", "conversation__site", "conversation__group")
        .order_by("created_at")
    )
    unfinished = [n for n in rows if n.status == Status.SENDING]
    if unfinished:
        # A worker died mid-send: send that email again, as it was, with its Message-ID.
        message_id = unfinished[0].provider_message_id
        items = [n for n in unfinished if n.provider_message_id == message_id]
    else:
        window = timedelta(seconds=settings.NOTIFY_EMAIL_WINDOW_SECONDS)
        if (
            not rows
            or Notification.objects.filter(
                recipient=recipient,
                status=Status.SENT,
                channel=Channel.EMAIL,
                sent_at__gt=now - window,
            ).exists()
        ):
            return None  # nothing, or one email per recipient per window: the next scan batches
        items = [n for n in rows if _still_relevant(n)]
        Notification.objects.filter(pk__in=[n.pk for n in rows if n not in items]).update(
            status=Status.SKIPPED
        )
        message_id = new_message_id()
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


def _compose(recipient: str, items: list[Notification], message_id: str) -> Email:
    kind, _, ident = recipient.partition(":")
    reason = items[0].reason
    language = _language(kind, ident)
    context: dict[str, Any] = {
        "lang": language,
        "items": items,
        "base": settings.PUBLIC_BASE_URL,
        "count": len(items),
    }
    if reason == Reason.VISITOR_REPLY:
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
    name = {
        Reason.AGENT_UNREAD: "agent_unread",
        Reason.ESCALATION: "escalation",
        Reason.VISITOR_REPLY: "visitor_reply",
    }[reason]
    subject = render_to_string(f"notifications/{name}_subject.txt", context).strip()
    headers = {}
    if reason == Reason.VISITOR_REPLY and (reply_to := reply_address(items[0].conversation_id)):
        headers["Reply-To"] = reply_to
    return Email(
        to=items[0].address,
        message_id=message_id,
        headers=headers,
        subject=subject,
        text=render_to_string(f"notifications/{name}.txt", context),
        html=render_to_string(f"notifications/{name}.html", context),
    )


def _language(kind: str, ident: str) -> str:
    if kind == "agent":
        prefs = (
            AgentPreferences.objects.filter(agent_id=ident)
            .values_list("language", flat=True)
            .first()
        )
        return prefs or "en"
    if kind == "user":
        prefs = (
            ManagerPreferences.objects.filter(user_id=ident)
            .values_list("language", flat=True)
            .first()
        )
        return prefs or "en"
    language = Visitor.objects.filter(pk=ident).values_list("language", flat=True).first() or ""
    return "zh-hans" if language.lower().startswith("zh") else "en"


# ---- visitor email: leave, verify, resume ------------------------------------------------------


def visitor_email_set(*, visitor: Visitor, email: str) -> None:
    """Store the address (unverified) and send the verification link."""
    Visitor.objects.filter(pk=visitor.pk).update(email=email, email_verified_at=None)
    token = signing.dumps({"v": visitor.pk.hex, "e": email}, salt=VERIFY_SALT)
    context = {
        "lang": "zh-hans" if visitor.language.lower().startswith("zh") else "en",
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
    updated = Visitor.objects.filter(pk=uuid.UUID(data["v"]), email=data["e"]).update(
        email_verified_at=timezone.now()
    )
    return Visitor.objects.get(pk=uuid.UUID(data["v"])) if updated else None


def resume_link(visitor: Visitor) -> str:
    token = signing.dumps({"v": visitor.pk.hex}, salt=RESUME_SALT)
    return f"{settings.PUBLIC_BASE_URL}/r/{token}/"


def resume_visitor(*, token: str, max_age_days: int = 30) -> Visitor | None:
    try:
        data = signing.loads(token, salt=RESUME_SALT, max_age=max_age_days * 86400)
    except signing.BadSignature:
        return None
    return Visitor.objects.select_related("site").filter(pk=uuid.UUID(data["v"])).first()
