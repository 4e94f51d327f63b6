"""Sending: a visitor's message and an agent's reply, stored once per client ID, routed,
kept offline for whoever is not connected, and announced after commit; and the visitor's
delivered and seen receipts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Greatest, Least

from helpdesk import access, events, files, jobs, metrics, payloads, selectors
from helpdesk.models import Agent, Attachment, Conversation, Message, Visitor
from helpdesk.services.attachments import attachments_claim
from helpdesk.services.conversations import reply_read_cursor
from helpdesk.timeline import APPENDED, message_add_system, message_append
from offline import services as offline_services
from offline.models import OfflineMessage
from routing import presence
from routing import selectors as routing_selectors
from routing import services as routing_services


class NotAssigned(Exception):
    """An agent replied to a conversation assigned to a colleague."""


@dataclass(frozen=True)
class SendResult:
    message: Message
    created: bool
    attachments: list[Attachment] = field(default_factory=list)

    def payload(self, *, audience: payloads.Audience) -> dict[str, Any]:
        """The stored message as its sender's ack shows it (no query)."""
        return payloads.message(
            self.message,
            audience=audience,
            attachments=files.payloads_of(self.attachments, audience),
        )


def _existing(message: Message) -> SendResult:
    """A resend: the stored message, with whatever files it carried."""
    return SendResult(message, created=False, attachments=list(message.attachments.all()))


@transaction.atomic
def message_send_by_visitor(
    *,
    visitor: Visitor,
    client_id: uuid.UUID,
    body: str,
    attachment_ids: list[uuid.UUID] | None = None,
) -> SendResult:
    """Store a visitor's message (once per ``client_id``) with the files it names (their own
    uploads), route, record if offline, notify. Raises ``attachments.NotYours``."""
    # One visitor's sends are serialised: a resend can't race its original. The statement
    # that locks the visitor also says whether this client ID is stored already.
    visitor = (
        Visitor.objects.select_for_update()
        .annotate(
            resent=Subquery(
                Message.objects.filter(
                    conversation__visitor=OuterRef("pk"),
                    sender=Message.Sender.VISITOR,
                    client_id=client_id,
                ).values("pk")[:1]
            )
        )
        .get(pk=visitor.pk)
    )
    if visitor.resent is not None:
        return _existing(Message.objects.select_related("agent").get(pk=visitor.resent))
    conversation = (
        selectors.with_send_facts(Conversation.objects.select_for_update())
        .filter(visitor=visitor, status=Conversation.Status.OPEN)
        .order_by("-created_at")
        .first()
    )
    started = conversation is None
    routed = started or conversation.assigned_agent_id is None  # type: ignore[union-attr]
    if conversation is not None:
        conversation.visitor = visitor  # the locked row in hand: no second read for the summary
    if conversation is None:
        conversation = Conversation.objects.create(
            site_id=visitor.site_id, visitor=visitor, channel=visitor.channel
        )
    message = message_append(
        conversation, sender=Message.Sender.VISITOR, body=body, client_id=client_id
    )
    sent = attachments_claim(message=message, attachment_ids=attachment_ids or [], visitor=visitor)
    if conversation.waiting_since is None:
        conversation.waiting_since = message.created_at
    conversation.snoozed_until = None  # the visitor wrote: a snoozed conversation is back
    conversation.save(update_fields=[*APPENDED, "waiting_since", "snoozed_until"])
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
    result = SendResult(message, created=True, attachments=sent)
    events.send_event_on_commit(
        [events.visitor_group(visitor.id)],
        {"type": "message", "message": result.payload(audience="visitor")},
    )
    if agent_id is not None:
        events.send_event_on_commit(
            [events.agent_group(agent_id)],
            {
                "type": "message",
                "message": result.payload(audience="agent"),
                "conversation": selectors.conversation_summary_after(
                    conversation,
                    message,
                    # Under the lock nothing else moved the read cursor; routing may have.
                    unread=None if routed else cast(Any, conversation).unread_before + 1,
                ),
            },
        )
    metrics.message_stored(conversation.channel, "visitor")
    if offline:
        # After the events, and robust: the message is committed whatever happens here.
        transaction.on_commit(lambda: after_offline_agent_message(conversation), robust=True)
    return result


def _tell_visitor_the_wait(conversation: Conversation) -> None:
    """A truthful expectation: the place in the queue, or when the team is next in."""
    expectation = routing_selectors.waiting_expectation(conversation) or {}
    if "position" in expectation:
        message_add_system(conversation=conversation, kind="queued", **expectation)
    else:
        message_add_system(
            conversation=conversation, kind="offline", next_open_at=expectation.get("next_open_at")
        )


def after_offline_agent_message(conversation: Conversation) -> None:
    """Close the login race: if the right agent came online meanwhile, flush now."""
    agent_id = conversation.assigned_agent_id
    if agent_id is not None:
        if presence.is_online("agent", agent_id):
            jobs.enqueue_now(jobs.FLUSH_AGENT, agent_id)
    elif conversation.group_id and routing_selectors.online_available_agents(
        [conversation.group_id]
    ):
        jobs.enqueue_now(jobs.ROUTE_CONVERSATION, str(conversation.id))  # this one, not a sweep


@transaction.atomic
def message_send_by_agent(
    *,
    agent: Agent,
    conversation: Conversation,
    client_id: uuid.UUID,
    body: str,
    actor: access.Actor | None = None,
    attachment_ids: list[uuid.UUID] | None = None,
) -> SendResult:
    """Store an agent's reply (once per ``client_id``), with the files it names (their own
    uploads to this conversation); a reply to a waiting one claims it.
    Whether ``agent`` may reply (``access``) is decided under the row lock: two agents
    claiming at once can't both win. ``actor``: the agent's standing, when the caller has
    read it (else it is read here).

    Raises ``NotAssigned``, ``attachments.NotYours``."""
    # Locked with what the summary needs (the visitor's name, the tags) and whether this
    # client ID is stored already: one statement. The visitor is read, not locked.
    conversation = (
        selectors.with_send_facts(
            Conversation.objects.select_for_update(of=("self",)).select_related("visitor")
        )
        .annotate(
            resent=Subquery(
                Message.objects.filter(
                    conversation=OuterRef("pk"), sender=Message.Sender.AGENT, client_id=client_id
                ).values("pk")[:1]
            )
        )
        .get(pk=conversation.pk)
    )
    if conversation.resent is not None:
        return _existing(Message.objects.select_related("agent").get(pk=conversation.resent))
    actor = actor or access.actor_for(agent.user)
    if actor is None or actor.agent_id != agent.id:
        raise NotAssigned("Only agents reply to conversations.")
    if not access.may(actor, access.Action.REPLY, conversation):
        raise NotAssigned(access.refusal(actor, access.Action.REPLY, conversation))
    message = message_append(
        conversation, sender=Message.Sender.AGENT, agent=agent, body=body, client_id=client_id
    )
    sent = attachments_claim(message=message, attachment_ids=attachment_ids or [], agent=agent)
    fields = [*APPENDED, "waiting_since", "agent_read_seq"]
    conversation.waiting_since = None
    if conversation.assigned_agent_id is None:
        conversation.assigned_agent = agent
        conversation.assigned_at = message.created_at
        fields += ["assigned_agent", "assigned_at"]
        routing_services.pending_work_follows(conversation_id=conversation.pk, agent_id=agent.id)
    # Replying means the agent has read what came before.
    reply_read_cursor(agent.id, conversation.pk, message.seq)
    if conversation.assigned_agent_id == agent.id:
        conversation.agent_read_seq = message.seq
    conversation.save(update_fields=fields)
    metrics.message_stored(conversation.channel, "agent")
    if not presence.is_online("visitor", conversation.visitor_id.hex):
        offline_services.offline_record(message=message, audience=OfflineMessage.Audience.VISITOR)
    result = SendResult(message, created=True, attachments=sent)
    events.send_event_on_commit(
        [events.visitor_group(conversation.visitor_id)],
        {"type": "message", "message": result.payload(audience="visitor")},
    )
    events.send_event_on_commit(
        [events.agent_group(a) for a in {agent.id, conversation.assigned_agent_id} if a],
        {
            "type": "message",
            "message": result.payload(audience="agent"),
            "conversation": selectors.conversation_summary_after(
                conversation,
                message,
                # The agent's reply counts nothing; the handling agent has read it all.
                unread=0
                if conversation.agent_read_seq >= message.seq
                else cast(Any, conversation).unread_before,
            ),
        },
    )
    return result


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
    if moved:
        # What the visitor's client says it has is delivered, whichever way it came (the socket,
        # HTTP catch-up in an app): no email or push follow-up for it.
        offline_services.offline_mark_delivered_to_visitor(
            conversation=conversation, up_to_seq=delivered
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
