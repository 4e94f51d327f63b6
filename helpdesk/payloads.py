"""The JSON shapes of docs/protocol.md, built from model rows (no queries here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from helpdesk.models import Conversation, Message

Audience = Literal["visitor", "agent"]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def message(m: Message, *, audience: Audience) -> dict[str, Any]:
    """``m.agent`` must be loaded (select_related) for agent messages."""
    own_side = m.sender == audience
    return {
        "id": str(m.id),
        "conversation_id": str(m.conversation_id),
        "seq": m.seq,
        "sender": m.sender,
        "agent_name": m.agent.display_name if m.agent_id else None,
        "body": m.body,
        "created_at": iso(m.created_at),
        "client_id": str(m.client_id) if own_side and m.client_id else None,
    }


def conversation(c: Conversation) -> dict[str, Any]:
    """``c`` comes from ``selectors.with_summary`` (annotated, visitor loaded)."""
    last = None
    if getattr(c, "last_body", None) is not None:
        last = {"sender": c.last_sender, "body": c.last_body[:200], "created_at": iso(c.last_at)}
    return {
        "id": str(c.id),
        "visitor": {"id": str(c.visitor_id), "name": c.visitor.display_name},
        "channel": c.channel,
        "status": c.status,
        "assigned_agent_id": c.assigned_agent_id,
        "last_seq": c.last_seq,
        "read_seq": c.agent_read_seq,
        "unread": c.unread,
        "waiting_since": iso(c.waiting_since),
        "last_message": last,
        "created_at": iso(c.created_at),
    }
