"""Resuming on another device: one-time links (in follow-up emails) and emailed codes."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from helpdesk import crypto
from helpdesk.models import Visitor
from notifications.models import (
    Notification,
    ResumeGrant,
)
from notifications.services.common import send_quietly, visitor_language
from notifications.transports import (
    Email,
)

log = logging.getLogger(__name__)
Reason, Status, Channel = Notification.Reason, Notification.Status, Notification.Channel

RESUME_SALT = "helpdesk.resume"


RESUME_LINK_DAYS = 30


RESUME_CODE_MINUTES = 15


RESUME_CODE_ATTEMPTS = 5


RESUME_CODES_PER_HOUR = 3


def _grant_hash(visitor_id: uuid.UUID, secret: str) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}:{visitor_id.hex}:{secret}".encode()).hexdigest()


def resume_link(visitor: Visitor) -> str:
    """A signed link that opens the visitor's chat on any device, once, within 30 days."""
    nonce = secrets.token_urlsafe(16)
    ResumeGrant.objects.create(
        visitor=visitor,
        kind=ResumeGrant.Kind.LINK,
        secret_hash=_grant_hash(visitor.pk, nonce),
        expires_at=timezone.now() + timedelta(days=RESUME_LINK_DAYS),
    )
    token = signing.dumps({"v": visitor.pk.hex, "n": nonce}, salt=RESUME_SALT)
    # In the fragment: browsers never send it, so no access log or proxy keeps the link.
    return f"{settings.PUBLIC_BASE_URL}/r/#{token}"


def _link_grant(token: str) -> QuerySet[ResumeGrant] | None:
    try:
        data = signing.loads(token, salt=RESUME_SALT, max_age=RESUME_LINK_DAYS * 86400)
        visitor_id = uuid.UUID(data["v"])
        nonce = str(data["n"])
    except (signing.BadSignature, KeyError, ValueError, TypeError):
        return None
    return ResumeGrant.objects.filter(
        visitor_id=visitor_id,
        kind=ResumeGrant.Kind.LINK,
        secret_hash=_grant_hash(visitor_id, nonce),
        used_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def resume_visitor(*, token: str) -> Visitor | None:
    """Whose link this is, if it is still good (a look: it does not use the link up)."""
    grants = _link_grant(token)
    grant = grants.select_related("visitor__site").first() if grants is not None else None
    return grant.visitor if grant else None


def resume_redeem(*, token: str) -> Visitor | None:
    """Use the link up (once, even under concurrent clicks) and return its visitor."""
    grants = _link_grant(token)
    if grants is None:
        return None
    grant = grants.select_related("visitor__site").first()
    if grant is None or not grants.filter(pk=grant.pk).update(used_at=timezone.now()):
        return None
    return grant.visitor


def _verified_visitors(site_id: uuid.UUID, email: str) -> QuerySet[Visitor]:
    return Visitor.objects.filter(
        site_id=site_id,
        email_hash=crypto.blind(email, "email"),
        email_verified_at__isnull=False,
    )


def resume_code_request(*, site: Any, email: str) -> None:
    """Email a 6-digit code to a confirmed address of this site's visitors. Says nothing
    about whether the address is known (the caller answers the same either way), and sends
    at most three codes an hour."""
    visitor = _verified_visitors(site.pk, email).order_by("-last_seen_at", "-created_at").first()
    if visitor is None:
        return
    hour_ago = timezone.now() - timedelta(hours=1)
    if (
        ResumeGrant.objects.filter(
            visitor=visitor, kind=ResumeGrant.Kind.CODE, created_at__gt=hour_ago
        ).count()
        >= RESUME_CODES_PER_HOUR
    ):
        log.info("resume codes for visitor %s: hourly limit reached", visitor.pk)
        return
    code = f"{secrets.randbelow(10**6):06d}"
    ResumeGrant.objects.create(
        visitor=visitor,
        kind=ResumeGrant.Kind.CODE,
        secret_hash=_grant_hash(visitor.pk, code),
        expires_at=timezone.now() + timedelta(minutes=RESUME_CODE_MINUTES),
    )
    context = {
        "lang": visitor_language(visitor.language),
        "code": code,
        "minutes": RESUME_CODE_MINUTES,
        "site": site,
    }
    mail = Email(
        to=visitor.email,
        subject=render_to_string("notifications/resume_code_subject.txt", context).strip(),
        text=render_to_string("notifications/resume_code.txt", context),
        html=render_to_string("notifications/resume_code.html", context),
    )
    transaction.on_commit(lambda: send_quietly(mail), robust=True)


@transaction.atomic
def resume_code_confirm(*, site: Any, email: str, code: str) -> Visitor | None:
    """The visitor whose code this is, using it up; None for a wrong, used or expired code.
    Each code allows five tries."""
    now = timezone.now()
    grants = list(
        ResumeGrant.objects.select_for_update()
        .filter(
            visitor__in=_verified_visitors(site.pk, email),
            kind=ResumeGrant.Kind.CODE,
            used_at__isnull=True,
            expires_at__gt=now,
            attempts__lt=RESUME_CODE_ATTEMPTS,
        )
        .select_related("visitor__site")
    )
    code = code.strip()
    for grant in grants:
        if hmac.compare_digest(grant.secret_hash, _grant_hash(grant.visitor_id, code)):
            ResumeGrant.objects.filter(pk=grant.pk).update(used_at=now)
            return grant.visitor
    ResumeGrant.objects.filter(pk__in=[g.pk for g in grants]).update(attempts=F("attempts") + 1)
    return None
