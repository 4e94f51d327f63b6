"""One class per channel behind one interface; one error type that says whether to retry."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


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
