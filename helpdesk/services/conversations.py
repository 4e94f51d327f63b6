"""A conversation's life around its messages: resolved, read, tagged; and an agent coming
online or going offline."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from helpdesk import access, events, jobs, selectors
from helpdesk.models import Agent, Conversation, ReadCursor, Tag
from helpdesk.timeline import conversation_changed, message_add_system
from routing import services as routing_services


@transaction.atomic
def conversation_resolve(
    *, conversation_id: uuid.UUID, by_name: str, actor: access.Actor | None = None
) -> Conversation:
    """Close a conversation (idempotent). Its agent's room goes straight back to the queue.
    The visitor's next message starts a new conversation. ``actor`` (a person in the inbox
    or the back office) is checked under the row lock; None: the system itself.

    Raises ``routing_services.NotAllowed``."""
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
        jobs.enqueue_on_commit(jobs.FLUSH_AGENT, previous)  # room freed
    return conversation


@transaction.atomic
def conversation_reopen(
    *, conversation_id: uuid.UUID, by_name: str, actor: access.Actor
) -> Conversation:
    """A resolved conversation open again, with the one who reopened it (when they may reply
    to it) or its agent. Only the visitor's latest conversation reopens: an older one would
    leave the visitor's next message going elsewhere. Raises ``NotAllowed``."""
    conversation = (
        Conversation.objects.select_for_update().select_related("visitor").get(pk=conversation_id)
    )
    if not access.may(actor, access.Action.RESOLVE, conversation):
        raise routing_services.NotAllowed(
            access.refusal(actor, access.Action.RESOLVE, conversation)
        )
    if conversation.status == Conversation.Status.OPEN:
        conversation_changed(
            conversation=conversation, agent_ids=[a for a in [actor.agent_id] if a], flush=False
        )
        return conversation
    newer = Conversation.objects.filter(
        visitor_id=conversation.visitor_id, created_at__gt=conversation.created_at
    ).exists()
    if newer:
        raise routing_services.NotAllowed(
            "The visitor has started a newer conversation: answer them there."
        )
    conversation.status = Conversation.Status.OPEN
    fields = ["status"]
    if conversation.assigned_agent_id is None and actor.agent_id is not None:
        conversation.assigned_agent_id = actor.agent_id
        fields.append("assigned_agent")
    conversation.save(update_fields=fields)
    message_add_system(conversation=conversation, kind="reopened", by=by_name)
    told = [a for a in dict.fromkeys((conversation.assigned_agent_id, actor.agent_id)) if a]
    conversation_changed(conversation=conversation, agent_ids=told, flush=False)
    return conversation


@transaction.atomic
def conversation_snooze(
    *, conversation_id: uuid.UUID, until: datetime | None, actor: access.Actor
) -> Conversation:
    """Out of the open lists until ``until`` (None: wake it now); it comes back unread then
    (``conversations_wake``), or at once when the visitor writes. Raises ``NotAllowed``."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    if not access.may(actor, access.Action.RESOLVE, conversation):
        raise routing_services.NotAllowed(
            access.refusal(actor, access.Action.RESOLVE, conversation)
        )
    conversation.snoozed_until = until
    conversation.save(update_fields=["snoozed_until"])
    told = [a for a in dict.fromkeys((conversation.assigned_agent_id, actor.agent_id)) if a]
    conversation_changed(conversation=conversation, agent_ids=told, flush=False)
    return conversation


def conversations_wake(*, now: datetime | None = None) -> int:
    """Snoozes that have run out: back in the lists, as unread for their agent (beat)."""
    now = now or timezone.now()
    woken = 0
    due = Conversation.objects.filter(snoozed_until__lte=now).values_list("pk", flat=True)[:500]
    for conversation_id in list(due):
        with transaction.atomic():
            conversation = (
                Conversation.objects.select_for_update(skip_locked=True)
                .filter(pk=conversation_id, snoozed_until__lte=now)
                .first()
            )
            if conversation is None:
                continue
            conversation.snoozed_until = None
            # Unread again: its agent's read cursor goes back before the last visitor message.
            conversation.agent_read_seq = min(
                conversation.agent_read_seq, max(conversation.last_visitor_seq - 1, 0)
            )
            conversation.save(update_fields=["snoozed_until", "agent_read_seq"])
            if conversation.assigned_agent_id:
                conversation_changed(
                    conversation=conversation,
                    agent_ids=[conversation.assigned_agent_id],
                    flush=False,
                )
            woken += 1
    return woken


@transaction.atomic
def conversation_claim(
    *, conversation_id: uuid.UUID, agent: Agent, actor: access.Actor
) -> Conversation:
    """Take a waiting conversation of one's groups (the Unassigned view's Claim): as a reply
    would, checked under the row lock (two agents claiming at once: one wins). Raises
    ``NotAllowed``."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    if not access.may(actor, access.Action.CLAIM, conversation):
        raise routing_services.NotAllowed(access.refusal(actor, access.Action.CLAIM, conversation))
    conversation.assigned_agent = agent
    conversation.assigned_at = timezone.now()
    conversation.save(update_fields=["assigned_agent", "assigned_at"])
    Conversation.objects.filter(pk=conversation.pk).update(
        agent_read_seq=selectors.read_cursor_of(agent.pk)
    )
    routing_services.pending_work_follows(conversation_id=conversation.pk, agent_id=agent.pk)
    conversation.refresh_from_db()
    conversation_changed(conversation=conversation, agent_ids=[agent.pk], flush=False)
    return conversation


@transaction.atomic
def move_read_cursor(agent_id: int, conversation_id: uuid.UUID, seq: int) -> None:
    """An agent's own cursor: forward only (an upsert that never lowers it)."""
    cursor, created = ReadCursor.objects.get_or_create(
        agent_id=agent_id, conversation_id=conversation_id, defaults={"seq": seq}
    )
    if not created and cursor.seq < seq:
        ReadCursor.objects.filter(pk=cursor.pk).update(seq=Greatest("seq", Value(seq)))


def reply_read_cursor(agent_id: int, conversation_id: uuid.UUID, seq: int) -> None:
    """The cursor of an agent who has just written ``seq``, the conversation's newest (it is
    locked): no cursor can be past it, so one upsert sets it, never lowering it."""
    ReadCursor.objects.bulk_create(
        [ReadCursor(agent_id=agent_id, conversation_id=conversation_id, seq=seq)],
        update_conflicts=True,
        unique_fields=["agent", "conversation"],
        update_fields=["seq", "updated_at"],
    )


@transaction.atomic
def conversation_mark_read(*, agent: Agent, conversation: Conversation, seq: int) -> None:
    """Move ``agent``'s own read cursor forward (never back, never past the end). It is the
    conversation's read state only when ``agent`` handles it: a manager or a colleague
    glancing at it leaves its agent's unread count alone. Every tab of the agent hears."""
    seq = max(0, min(seq, conversation.last_seq))
    move_read_cursor(agent.id, conversation.pk, seq)
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
    jobs.enqueue_on_commit(jobs.FLUSH_AGENT, agent_id)
    routing_services.online_session_start(agent_id=agent_id)
    routing_services.agent_presence_changed(agent_id=agent_id)


def agent_went_offline(*, agent_id: int) -> None:
    routing_services.online_session_end(agent_id=agent_id)
    routing_services.agent_presence_changed(agent_id=agent_id)
