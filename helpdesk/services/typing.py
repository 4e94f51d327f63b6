"""Typing, both ways: never stored, never in a catch-up, at most one event a second per
socket (the consumer throttles). An agent sees what the visitor is typing only where the
site turned ``typing_preview`` on (off by default: a privacy choice, docs/security.md)."""

from __future__ import annotations

from helpdesk import events
from helpdesk.models import Agent, Conversation, Visitor

PREVIEW_CHARS = 200


def typing_by_visitor(*, visitor: Visitor, active: bool, preview: str = "") -> None:
    """Tell the agent of the visitor's latest open conversation (none: nobody to tell)."""
    conversation = (
        Conversation.objects.filter(visitor=visitor, status=Conversation.Status.OPEN)
        .select_related("site")
        .order_by("-created_at")
        .only("pk", "assigned_agent_id", "site__typing_preview")
        .first()
    )
    if conversation is None or conversation.assigned_agent_id is None:
        return
    event = {"type": "typing", "conversation_id": str(conversation.pk), "active": active}
    if active and preview and conversation.site.typing_preview:
        event["preview"] = preview[:PREVIEW_CHARS]
    events.send_event_now([events.agent_group(conversation.assigned_agent_id)], event)


def typing_by_agent(*, agent: Agent, conversation: Conversation, active: bool) -> None:
    """Tell the visitor's sockets (the caller checked the agent may reply)."""
    events.send_event_now(
        [events.visitor_group(conversation.visitor_id)],
        {
            "type": "typing",
            "conversation_id": str(conversation.pk),
            "active": active,
            "agent_name": agent.display_name,
        },
    )
