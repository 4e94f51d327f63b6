"""Reply by email and delivery reports, through django-anymail's Mailgun webhooks with real
Mailgun payload formats and signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest
from django.utils import timezone

from helpdesk.models import Message
from notifications.addresses import reply_address
from notifications.inbound import strip_quoted
from notifications.models import Notification
from tests.factories import ConversationFactory, VisitorFactory

pytestmark = pytest.mark.django_db
KEY = "test-signing-key"


@pytest.fixture(autouse=True)
def mailgun(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": KEY}
    settings.INBOUND_EMAIL_DOMAIN = "reply.example.com"


def signed(key: str = KEY) -> dict[str, str]:
    token, timestamp = uuid.uuid4().hex, str(int(time.time()))
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"token": token, "timestamp": timestamp, "signature": signature}


@pytest.fixture
def conversation(acme):
    visitor = VisitorFactory(site=acme, email="vic@example.com", email_verified_at=timezone.now())
    return ConversationFactory(visitor=visitor)


def mime(sender: str, to: str, body: str, message_id: str = "<reply-1@mail.example.com>") -> str:
    return (
        f"From: Vic <{sender}>\r\nTo: {to}\r\nSubject: Re: Acme replied\r\nMessage-ID: {message_id}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )


def post_inbound(client, conversation, *, sender="vic@example.com", to=None, key=KEY, body=None):
    to = to or reply_address(conversation.id)
    text = (
        body
        or "Thanks, tomorrow works.\r\n\r\nOn Tue, 24 Nov 2026 Acme wrote:\r\n> Your order ships today."
    )
    data = {**signed(key), "recipient": to, "sender": sender, "body-mime": mime(sender, to, text)}
    return client.post("/email/mailgun/inbound_mime/", data)


def test_a_visitor_answers_by_email_and_it_lands_in_the_conversation(client, conversation):
    assert post_inbound(client, conversation).status_code == 200
    assert post_inbound(client, conversation).status_code == 200  # Mailgun retried: once only
    [message] = Message.objects.filter(sender="visitor")
    assert message.body == "Thanks, tomorrow works."  # the quoted original is stripped
    assert message.conversation_id == conversation.id


def test_forged_or_misaddressed_email_changes_nothing(client, conversation):
    assert post_inbound(client, conversation, key="wrong-key").status_code == 400
    assert post_inbound(client, conversation, sender="mallory@example.com").status_code == 200
    forged = f"reply+{conversation.id.hex}-0000000000000000@reply.example.com"
    assert post_inbound(client, conversation, to=forged).status_code == 200
    assert not Message.objects.exists()


def test_a_bounce_unconfirms_the_visitors_address(client, conversation):
    Notification.objects.create(
        recipient=f"visitor:{conversation.visitor_id}",
        address="vic@example.com",
        reason="visitor_reply",
        channel="email",
        conversation=conversation,
        level=1,
        status="sent",
        provider_message_id="<abc123@helpdesk.example.com>",
    )
    payload = {
        "signature": signed(),
        "event-data": {
            "event": "failed",
            "severity": "permanent",
            "id": "e1",
            "timestamp": time.time(),
            "recipient": "vic@example.com",
            "reason": "bounce",
            "delivery-status": {"code": 550, "message": "No such mailbox", "description": ""},
            "message": {"headers": {"message-id": "abc123@helpdesk.example.com"}},
        },
    }
    response = client.post(
        "/email/mailgun/tracking/", json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 200
    conversation.visitor.refresh_from_db()
    assert conversation.visitor.email_verified_at is None
    assert "bounced" in Notification.objects.get().error


def test_quoted_text_is_stripped_in_both_languages():
    assert strip_quoted("OK\n\nOn Mon, 1 Jan 2026 Acme <a@b.c> wrote:\n> hi") == "OK"
    assert (
        strip_quoted("好的\n\n在 2026年11月24日 Acme 写道\uff1a\n> 你好") == "好的"
    )  # fullwidth colon
    assert strip_quoted("no quote here") == "no quote here"


def test_follow_up_emails_carry_the_conversations_reply_address(conversation, alice, mailoutbox):
    from datetime import timedelta

    import time_machine

    from helpdesk import services as helpdesk_services
    from notifications import services

    conversation.assigned_agent = alice
    conversation.save(update_fields=["assigned_agent"])
    with time_machine.travel(timezone.now(), tick=False) as clock:
        helpdesk_services.message_send_by_agent(
            agent=alice, conversation=conversation, client_id=uuid.uuid4(), body="Hi!"
        )
        clock.shift(timedelta(minutes=3))
        services.scan()
    [email] = mailoutbox
    assert email.extra_headers["Reply-To"] == reply_address(conversation.id)
    assert reply_address(conversation.id).startswith(f"reply+{conversation.id.hex}-")
