"""One class per channel behind one interface; one error type that says whether to retry."""

from __future__ import annotations

import json
import smtplib
from dataclasses import dataclass, field
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from pywebpush import WebPushException, webpush
from requests import RequestException


class TransportError(Exception):
    """``permanent``: retrying cannot help. ``gone``: the address no longer exists (a push
    subscription the push service answered 404 or 410 for) and should be forgotten."""

    def __init__(self, message: str, *, permanent: bool, gone: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent or gone
        self.gone = gone


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    # Chosen before sending and kept: a resend after a crash carries the same Message-ID,
    # which mail systems use to show the recipient one email.
    message_id: str = ""


def new_message_id() -> str:
    return make_msgid(domain=settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost")


class EmailTransport:
    """Django's email API: SMTP or the console in development, django-anymail in production
    (the backend is ``EMAIL_BACKEND``). Returns the provider's message ID, or ours."""

    channel = "email"

    def send(self, email: Email) -> str:
        message_id = email.message_id or new_message_id()
        message = EmailMultiAlternatives(
            subject=email.subject,
            body=email.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[email.to],
            headers={"Message-ID": message_id, **email.headers},
        )
        message.attach_alternative(email.html, "text/html")
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise TransportError(f"recipient refused: {exc}", permanent=True) from exc
        except Exception as exc:
            if type(exc).__name__ == "AnymailRecipientsRefused":
                raise TransportError(f"recipient refused: {exc}", permanent=True) from exc
            raise TransportError(f"{type(exc).__name__}: {exc}", permanent=False) from exc
        status = getattr(message, "anymail_status", None)
        return (getattr(status, "message_id", None) or message_id) if status else message_id


@dataclass(frozen=True)
class Push:
    endpoint: str
    p256dh: str
    auth: str
    payload: dict[str, object]
    # Push services replace an undelivered push with a newer one of the same topic, so a
    # resend after a crash, or a newer summary, does not stack up on a device that was off.
    topic: str = ""


class PushTransport:
    """Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291),
    through pywebpush. Returns the push service's message URL (its Location header)."""

    channel = "push"

    def send(self, push: Push) -> str:
        headers = {"Urgency": "high"}
        if push.topic:
            headers["Topic"] = push.topic
        try:
            response = webpush(
                subscription_info={
                    "endpoint": push.endpoint,
                    "keys": {"p256dh": push.p256dh, "auth": push.auth},
                },
                data=json.dumps(push.payload, ensure_ascii=False),
                vapid_private_key=settings.VAPID_PRIVATE_KEY,
                vapid_claims={"sub": settings.VAPID_SUBJECT},
                ttl=settings.PUSH_TTL_SECONDS,
                timeout=settings.PUSH_TIMEOUT_SECONDS,
                headers=headers,
            )
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            message = f"push service answered {status}" if status else str(exc)
            if status in (404, 410):
                raise TransportError(message, permanent=True, gone=True) from exc
            # 400, 401, 403, 413: the request or our keys are wrong; sending again won't help.
            permanent = status is not None and 400 <= status < 500 and status != 429
            raise TransportError(message, permanent=permanent) from exc
        except (RequestException, ValueError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}", permanent=False) from exc
        return str(response.headers.get("Location", "")) if hasattr(response, "headers") else ""
