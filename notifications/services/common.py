"""What several kinds of notification share: the recipient's language, sending one email
without retries, a site's app and mini-program settings."""

from __future__ import annotations

import logging
from typing import Any

from helpdesk.models import Visitor
from notifications.models import (
    AgentPreferences,
    ChannelSettings,
    ManagerPreferences,
    Notification,
)
from notifications.transports import (
    Email,
    EmailTransport,
    TransportError,
)

log = logging.getLogger(__name__)
Reason, Status, Channel = Notification.Reason, Notification.Status, Notification.Channel


def recipient_language(kind: str, ident: str) -> str:
    """The language a recipient reads: their preference (staff), or their browser's (visitor)."""
    if kind == "visitor":
        return visitor_language(
            Visitor.objects.filter(pk=ident).values_list("language", flat=True).first() or ""
        )
    if kind == "user":
        chosen = (
            ManagerPreferences.objects.filter(user_id=ident)
            .values_list("language", flat=True)
            .first()
        )
    else:
        chosen = (
            AgentPreferences.objects.filter(agent_id=ident)
            .values_list("language", flat=True)
            .first()
        )
    return chosen or "en"


def visitor_language(browser_language: str) -> str:
    """Our two languages: Simplified Chinese for any zh-* browser, else English."""
    return "zh-hans" if browser_language.lower().startswith("zh") else "en"


def send_quietly(mail: Email) -> None:
    try:
        EmailTransport().send(mail)
    except TransportError as exc:
        log.warning("verification email to %s failed: %s", mail.to, exc)


class ChannelNotConfigured(Exception):
    """The site has no credentials for this channel (back office: app and mini-program
    settings)."""


def channel_settings(site_id: Any) -> ChannelSettings | None:
    return ChannelSettings.objects.filter(site_id=site_id).first()
