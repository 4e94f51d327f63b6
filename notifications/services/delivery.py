"""Delivery: pending notifications sent per recipient and channel, claimed with SKIP LOCKED,
checked again at send time, one email (or push, or mini-program message) listing every
conversation concerned."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from helpdesk.models import Conversation, Message
from notifications.addresses import reply_address
from notifications.models import (
    Notification,
    PushSubscription,
)
from notifications.services.common import recipient_language, send_to_each
from notifications.services.mobile import send_native
from notifications.services.push import push_enabled
from notifications.services.resume import resume_link
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

log = logging.getLogger(__name__)
Reason, Status, Channel = Notification.Reason, Notification.Status, Notification.Channel

MAX_ATTEMPTS = 5


RETRY_BASE_SECONDS = 30  # then 60, 120, 240… (at most an hour) between attempts

# Channels without an idempotency key, where a resend would reach the person twice: a send
# that may have gone out (its worker died mid-send) is never repeated.
AT_MOST_ONCE = (Channel.WECHAT, Channel.WECHAT_CS)


def sendable(now: datetime) -> QuerySet[Notification]:
    """Rows to send now: pending (and past any backoff), or left "sending" by a dead worker."""
    stale = now - timedelta(seconds=settings.NOTIFY_SENDING_TIMEOUT_SECONDS)
    return Notification.objects.filter(
        Q(status=Status.PENDING, retry_at__isnull=True)
        | Q(status=Status.PENDING, retry_at__lte=now)
        | Q(status=Status.SENDING, sending_at__lt=stale)
    )


def _still_relevant(n: Notification) -> bool:
    """Checked again at send time, against the database and presence as they are now."""
    conv = n.conversation
    if n.reason == Reason.MENTION:  # wherever the conversation stands, a colleague asked
        agent_id = int(n.recipient.split(":")[1])
        return n.channel == Channel.PUSH or not presence.online_agent_ids([agent_id])
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
        elif channel == Channel.EMAIL:
            provider_id = EmailTransport().send(_compose(recipient, items, message_id))
        else:
            provider_id, partial = send_native(channel, recipient, items, message_id)
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
        sendable(now)
        .select_for_update(skip_locked=True, of=("self",))
        .filter(recipient=recipient, channel=channel)
        .select_related("conversation__visitor", "conversation__site", "conversation__group")
        .order_by("created_at")
    )
    unfinished = [n for n in rows if n.status == Status.SENDING]
    if unfinished and channel in AT_MOST_ONCE:
        # It may have arrived, and WeChat would show a resend as a second message.
        Notification.objects.filter(pk__in=[n.pk for n in unfinished]).update(
            status=Status.FAILED,
            error="The send stopped midway (its worker died); it may have arrived, so it "
            "is not sent again.",
        )
        return None
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
        # A retry keeps the ID of the first attempt: a push replaces what may have arrived.
        earlier = next((n.provider_message_id for n in items if n.provider_message_id), "")
        message_id = new_message_id() if channel == Channel.EMAIL else earlier or uuid.uuid4().hex
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
        "lang": recipient_language(kind, ident),
        "items": unique,
        "base": settings.PUBLIC_BASE_URL,
        "count": len(unique),
    }
    if items[0].reason == Reason.MENTION:
        agent_id = int(ident)
        context["notes"] = [
            note
            for n in unique
            for note in n.conversation.notes.filter(mentions=agent_id)
            .select_related("agent")
            .order_by("-created_at")[:1]
        ]
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
    if items[0].reason == Reason.MENTION and context["notes"]:
        note = context["notes"][0]
        return {
            "title": render_to_string(f"notifications/{name}_subject.txt", context).strip(),
            "body": f"{note.agent.display_name if note.agent else ''}: {note.body}"[:300],
            "url": f"{base}/inbox/{note.conversation_id}/",
            "tag": f"helpdesk-mention-{note.conversation_id}",
            "conversations": [str(note.conversation_id)],
        }
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
    return send_to_each(
        subscriptions,
        lambda sub: PushTransport().send(
            Push(sub.endpoint, sub.p256dh, sub.auth, payload=payload, topic=topic)
        ),
        fallback=topic,
        what="push subscription",
    )
