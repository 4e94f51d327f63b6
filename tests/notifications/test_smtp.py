"""Once through a real SMTP server on loopback (aiosmtpd), with Django's SMTP backend as a
production deployment would configure it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler

from helpdesk import services as helpdesk_services
from helpdesk.models import Conversation
from notifications import services
from notifications.models import Notification
from tests.factories import VisitorFactory
from tests.processes import free_port

pytestmark = pytest.mark.django_db


class Inbox(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.messages = []

    def handle_message(self, message) -> None:
        self.messages.append(message)


@pytest.fixture
def smtp_server(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    yield inbox
    controller.stop()


def test_a_reminder_goes_out_over_real_smtp(smtp_server, acme, alice):
    with time_machine.travel(datetime(2026, 11, 24, 10, tzinfo=UTC), tick=False) as clock:
        visitor = VisitorFactory(site=acme)
        msg = helpdesk_services.message_send_by_visitor(
            visitor=visitor, client_id=uuid.uuid4(), body="hi"
        ).message
        Conversation.objects.filter(pk=msg.conversation_id).update(assigned_agent=alice)
        clock.shift(timedelta(minutes=11))
        services.scan()
    [received] = smtp_server.messages
    assert received["To"] == alice.user.email
    n = Notification.objects.get()
    assert n.status == "sent" and received["Message-ID"] == n.provider_message_id
    assert received.is_multipart()  # plain text and HTML
