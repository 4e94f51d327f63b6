"""Internal notes: staff-only lines beside a conversation's messages, with @mentions.

A note is not a message: it has no seq and lives in its own table, so no visitor path
(socket, HTTP, catch-up, email, push, export) can carry one by mistake; agents get it in
their history and as a ``note`` event. Mentioning a colleague who may see the conversation
notifies them (in the inbox at once; by push, and by email when they are not connected).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from helpdesk import access, events, jobs, payloads
from helpdesk.models import Agent, Conversation, Note
from notifications.models import Notification
from notifications.services import push

_MENTION = re.compile(r"@([\w.\-]+)", re.UNICODE)


@dataclass(frozen=True)
class NoteResult:
    note: Note
    created: bool


def mentioned(conversation: Conversation, body: str, mention_ids: list[int]) -> list[Agent]:
    """The agents a note names (by ID, or ``@name`` for a display name's first word or a
    username) who may see the conversation; anyone else is left out."""
    words = sorted({w.casefold() for w in _MENTION.findall(body)})[:20]
    named_q = Q(pk__in=mention_ids) | Q(user__username__in=words)
    for word in words:
        named_q |= Q(display_name__istartswith=word)
    candidates = Agent.objects.filter(named_q, user__is_active=True).select_related("user")
    found = []
    for agent in candidates:
        first = agent.display_name.split()[0].casefold() if agent.display_name else ""
        named = agent.pk in mention_ids or first in words or agent.user.username.casefold() in words
        if not named:
            continue
        actor = access.actor_for(agent.user)
        if actor is not None and access.is_visible(actor, conversation):
            found.append(agent)
    return found


@transaction.atomic
def note_add(
    *,
    agent: Agent,
    conversation: Conversation,
    client_id: uuid.UUID,
    body: str,
    mention_ids: list[int] | None = None,
) -> NoteResult:
    """Add a note (once per ``client_id``); the caller checked ``agent`` may see the
    conversation. Tells the author's tabs, the conversation's agent and those mentioned."""
    existing = (
        Note.objects.filter(conversation=conversation, agent=agent, client_id=client_id)
        .select_related("agent")
        .first()
    )
    if existing is not None:
        return NoteResult(existing, created=False)
    note = Note.objects.create(
        conversation=conversation, agent=agent, client_id=client_id, body=body
    )
    people = [a for a in mentioned(conversation, body, mention_ids or []) if a.pk != agent.pk]
    if people:
        note.mentions.set(people)
    note.agent = agent
    shown = payloads.note(note)
    audience = {agent.pk, conversation.assigned_agent_id, *(a.pk for a in people)}
    events.send_event_on_commit(
        [events.agent_group(a) for a in audience if a],
        {"type": "note", "note": shown},
    )
    level = Note.objects.filter(conversation=conversation).count()  # this note's number
    with_push = push.users_with_push(a.user_id for a in people)
    rows = [
        Notification(
            recipient=f"agent:{a.pk}",
            reason=Notification.Reason.MENTION,
            channel=channel,
            conversation=conversation,
            level=level,
            address=a.user.email if channel == Notification.Channel.EMAIL else "",
        )
        for a in people
        for channel in (Notification.Channel.PUSH, Notification.Channel.EMAIL)
        if (channel == Notification.Channel.PUSH and a.user_id in with_push)
        or (channel == Notification.Channel.EMAIL and a.user.email)
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    for row in rows:
        jobs.enqueue_on_commit(jobs.DELIVER_NOTIFICATION, row.recipient, row.channel)
    return NoteResult(note, created=True)
