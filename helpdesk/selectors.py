"""Reads. Every list is a fixed number of queries, whatever its length."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from helpdesk import payloads
from helpdesk.models import Agent, AgentGroup, Conversation, Message, Site, Visitor


def with_summary(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Annotate what a conversation summary shows: unread count and the last message."""
    # The last thing a person said (system lines such as the offline notice are not it).
    last = (
        Message.objects.filter(conversation=OuterRef("pk"))
        .exclude(sender=Message.Sender.SYSTEM)
        .order_by("-seq")
    )
    unread = (
        Message.objects.filter(
            conversation=OuterRef("pk"),
            sender=Message.Sender.VISITOR,
            seq__gt=OuterRef("agent_read_seq"),
        )
        .order_by()
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return qs.select_related("visitor").annotate(
        unread=Coalesce(Subquery(unread), 0),
        last_body=Subquery(last.values("body")[:1]),
        last_sender=Subquery(last.values("sender")[:1]),
        last_at=Subquery(last.values("created_at")[:1]),
    )


def inbox_order(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Waiting conversations first, oldest wait first; then the most recently active."""
    return qs.order_by(
        F("waiting_since").asc(nulls_last=True), F("last_message_at").desc(nulls_last=True)
    )


def agent_inbox(agent: Agent) -> list[dict[str, Any]]:
    qs = Conversation.objects.filter(assigned_agent=agent, status=Conversation.Status.OPEN)
    return [payloads.conversation(c) for c in inbox_order(with_summary(qs))]


def conversation_summaries(ids: Iterable[uuid.UUID]) -> list[dict[str, Any]]:
    qs = Conversation.objects.filter(pk__in=list(ids))
    return [payloads.conversation(c) for c in inbox_order(with_summary(qs))]


def conversation_summary(conversation_id: uuid.UUID) -> dict[str, Any]:
    return payloads.conversation(with_summary(Conversation.objects.all()).get(pk=conversation_id))


def agent_for_user(user: Any) -> Agent | None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return Agent.objects.filter(user=user).first()


def conversations_visible_to(agent: Agent) -> QuerySet[Conversation]:
    """An agent sees what is assigned to them and what belongs to their groups' sites."""
    return Conversation.objects.filter(
        Q(assigned_agent=agent) | Q(site__default_group__agents=agent)
    ).distinct()


def conversation_for_agent(agent: Agent, conversation_id: Any) -> Conversation | None:
    try:
        pk = uuid.UUID(str(conversation_id))
    except ValueError:
        return None
    return conversations_visible_to(agent).filter(pk=pk).first()


def transfer_targets(agent: Agent) -> dict[str, list[dict[str, Any]]]:
    """Where an agent can move a conversation: any team, any other active agent."""
    return {
        "groups": [{"id": g.id, "name": g.name} for g in AgentGroup.objects.order_by("name")],
        "agents": [
            {"id": pk, "name": name}
            for pk, name in Agent.objects.filter(user__is_active=True)
            .exclude(pk=agent.pk)
            .order_by("display_name")
            .values_list("pk", "display_name")
        ],
    }


def agent_may_reply(agent: Agent, conversation: Conversation) -> bool:
    """Agents of the group may read a colleague's conversation, but only reply to their own
    or to a waiting one (which the reply claims)."""
    return conversation.assigned_agent_id in (None, agent.id)


def messages_after(
    conversation_id: uuid.UUID, after_seq: int, limit: int | None = None
) -> list[Message]:
    qs = Message.objects.filter(conversation_id=conversation_id, seq__gt=after_seq).select_related(
        "agent"
    )
    if limit is None:
        return list(qs.order_by("seq"))
    return list(reversed(qs.order_by("-seq")[:limit]))


def visitor_latest_conversation(visitor: Visitor) -> Conversation | None:
    return visitor.conversations.order_by("-created_at").first()


def visitor_catch_up(
    visitor: Visitor, cursor: dict[str, Any] | None, limit: int
) -> tuple[Conversation | None, list[Message]]:
    """The visitor's latest conversation: everything after a cursor that names it, else its
    last ``limit`` messages. ``cursor`` is validated (``conversation_id``, ``seq``)."""
    conv = visitor_latest_conversation(visitor)
    if conv is None:
        return None, []
    if cursor and str(cursor.get("conversation_id")) == str(conv.id):
        return conv, messages_after(conv.id, cursor["seq"])
    return conv, messages_after(conv.id, 0, limit)


def site_by_key(widget_key: str) -> Site | None:
    return Site.objects.filter(widget_key=widget_key).first()
