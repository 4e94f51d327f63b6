"""The timeline of a conversation: the lowest layer that writes it.

Appending a message at the next seq (and keeping the conversation's counters), system lines
and their wording, and telling agents that a conversation changed. Routing, the offline
store, notifications and the services above build on these; this module imports none of
them (docs/contributing.md, "Layers").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from helpdesk import events, jobs, payloads, search, selectors
from helpdesk.models import Conversation, Message, MessageToken


def message_append(conversation: Conversation, **fields: object) -> Message:
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
    if message.sender != Message.Sender.SYSTEM:
        message_index(message)
    return message


def message_index(message: Message) -> None:
    """The message's search tokens (helpdesk.search), one multi-row insert."""
    rows = [
        MessageToken(token=t, message_id=message.pk, conversation_id=message.conversation_id)
        for t in search.tokens(message.body)
    ]
    if rows:
        MessageToken.objects.bulk_create(rows, ignore_conflicts=True)


# What every caller of message_append saves.
APPENDED = [
    "last_seq",
    "last_message_at",
    "last_visitor_seq",
    "last_agent_seq",
    "first_visitor_at",
    "first_response_at",
    "first_response_agent",
]


def message_add_system(*, conversation: Conversation, kind: str, **meta: Any) -> Message:
    """A system line (never a reply). ``conversation`` must be locked by the caller."""
    meta = {"kind": kind, **meta}
    message = message_append(
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
    if kind == "reopened":
        return "This conversation has been reopened."
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
    events.send_event_on_commit(
        [events.agent_group(a) for a in agent_ids],
        {"type": "conversation", "conversation": selectors.conversation_summary(conversation.id)},
    )
    new = conversation.assigned_agent_id
    if flush and new is not None:
        jobs.enqueue_on_commit(jobs.FLUSH_AGENT, new)
