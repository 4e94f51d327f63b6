"""People's own notification settings."""

from __future__ import annotations

import logging
from typing import Any

from helpdesk.models import Agent
from notifications.models import (
    AgentPreferences,
    ManagerPreferences,
    Notification,
)

log = logging.getLogger(__name__)
Reason, Status, Channel = Notification.Reason, Notification.Status, Notification.Channel


def set_agent_preferences(*, agent: Agent, **fields: Any) -> AgentPreferences:
    prefs, _ = AgentPreferences.objects.update_or_create(agent=agent, defaults=fields)
    return prefs


def set_manager_preferences(*, user: Any, **fields: Any) -> ManagerPreferences:
    prefs, _ = ManagerPreferences.objects.update_or_create(user=user, defaults=fields)
    return prefs
