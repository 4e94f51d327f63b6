"""What several kinds of notification share: the recipient's language, sending one email
without retries, one push to each of someone's browsers or phones, a site's app and
mini-program settings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import Model
from django.utils import timezone

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


def send_to_each(
    targets: Sequence[Model], send: Callable[[Any], str | None], *, fallback: str, what: str
) -> tuple[str, str]:
    """One push to each of someone's browsers or phones (``targets``: rows with
    ``last_success_at``). One that answers "gone" (unsubscribed, uninstalled) is deleted and
    never tried again. Sent if any took it: (the first one's ID, or ``fallback``; the others'
    errors). Else ``TransportError``: permanent only if every error was, maybe sent if any
    may have gone out."""
    accepted: list[str] = []
    errors: list[TransportError] = []
    delivered, gone = [], []
    for target in targets:
        try:
            accepted.append(send(target) or fallback)
            delivered.append(target.pk)
        except TransportError as exc:
            if exc.gone:
                gone.append(target.pk)
                log.info("%s %s is gone; deleting it", what, target.pk)
            errors.append(exc)
    rows = type(targets[0])._default_manager if targets else None
    if rows is not None:
        rows.filter(pk__in=delivered).update(last_success_at=timezone.now())
        rows.filter(pk__in=gone).delete()
    summary = "; ".join(str(e) for e in errors)
    if accepted:
        return accepted[0], summary
    raise TransportError(
        summary,
        permanent=all(e.permanent for e in errors),
        maybe_sent=any(e.maybe_sent for e in errors),
    )
