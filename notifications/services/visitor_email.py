"""A visitor's email address: left in the widget, confirmed by a link."""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from helpdesk import crypto, ratelimit
from helpdesk.models import Visitor
from notifications.models import (
    Notification,
)
from notifications.services.common import send_quietly, visitor_language
from notifications.transports import (
    Email,
)

log = logging.getLogger(__name__)
Reason, Status, Channel = Notification.Reason, Notification.Status, Notification.Channel

VERIFY_SALT = "helpdesk.verify-email"


def visitor_email_set(*, visitor: Visitor, email: str) -> None:
    """Store the address (unverified) and send the verification link. Counted per visitor
    and per address before anything changes (``RateLimited``)."""
    ratelimit.hit("visitor_emails", visitor.pk.hex, what="confirmation emails")
    ratelimit.hit(
        "email_confirmations", crypto.blind(email, "email"), what="emails to this address"
    )
    visitor.email = email
    visitor.email_verified_at = None
    visitor.save(update_fields=["email", "email_verified_at"])
    # The link names the address by its keyed hash: no email address in URLs (or logs).
    token = signing.dumps({"v": visitor.pk.hex, "h": visitor.email_hash}, salt=VERIFY_SALT)
    context = {
        "lang": visitor_language(visitor.language),
        "url": f"{settings.PUBLIC_BASE_URL}/v/verify/{token}/",
        "site": visitor.site,
    }
    mail = Email(
        to=email,
        subject=render_to_string("notifications/verify_subject.txt", context).strip(),
        text=render_to_string("notifications/verify.txt", context),
        html=render_to_string("notifications/verify.html", context),
    )
    transaction.on_commit(lambda: send_quietly(mail), robust=True)


def visitor_email_verify(*, token: str, max_age_days: int = 7) -> Visitor | None:
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=max_age_days * 86400)
    except signing.BadSignature:
        return None
    updated = Visitor.objects.filter(pk=uuid.UUID(data["v"]), email_hash=data.get("h")).update(
        email_verified_at=timezone.now()
    )
    return Visitor.objects.get(pk=uuid.UUID(data["v"])) if updated else None
