"""Helpers the tests share to set up conversations the way visitors make them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from helpdesk import services
from helpdesk.models import Agent, Conversation, Site
from tests.factories import VisitorFactory


def visitor_writes(site: Site, body: str = "hello", **visitor: Any) -> Conversation:
    """A new visitor of ``site`` sends ``body``: stored, routed and notified as in life."""
    v = VisitorFactory(site=site, **visitor)
    msg = services.message_send_by_visitor(visitor=v, client_id=uuid.uuid4(), body=body).message
    return Conversation.objects.get(pk=msg.conversation_id)


def assign(conv: Conversation, agent: Agent, at: datetime | None = None) -> Conversation:
    """Give ``conv`` to ``agent`` directly (the routing tests cover how it gets there)."""
    Conversation.objects.filter(pk=conv.pk).update(assigned_agent=agent, assigned_at=at)
    conv.refresh_from_db()
    return conv
