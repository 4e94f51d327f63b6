"""App push end to end: phones registered through the API, a reply the visitor has not seen,
and the push received by stand-ins for FCM (with Google's OAuth token endpoint) and APNs
(over HTTP/2) on loopback, each verifying our credentials as the real service does. Once per
reply; a phone whose app is gone is forgotten and the follow-up falls back to email.

People: Alice (Support agent); Vic, a visitor in Acme's app; Eve, another visitor.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk import services as helpdesk_services
from helpdesk import tokens
from notifications import services
from notifications.models import ChannelSettings, Device, Notification
from notifications.services import reminders
from tests.apppush import Apns, Fcm
from tests.conversations import assign, visitor_writes
from tests.factories import VisitorFactory
from tests.notifications.conftest import START

pytestmark = pytest.mark.django_db

FCM_TOKEN = "fJ3k9Qa1:APA91bH-" + "x" * 120
APNS_TOKEN = "a1" * 32


@pytest.fixture
def fcm(settings):
    service = Fcm().start()
    settings.FCM_BASE_URL = service.base
    settings.FCM_TOKEN_URL = service.token_url
    yield service
    service.stop()


@pytest.fixture
def apns(settings):
    service = Apns().start()
    settings.APNS_BASE_URL = service.base
    yield service
    service.stop()


@pytest.fixture
def fcm_site(acme, fcm):
    return ChannelSettings.objects.create(site=acme, fcm_service_account=fcm.service_account())


@pytest.fixture
def apns_site(acme, apns):
    return ChannelSettings.objects.create(
        site=acme,
        apns_key=apns.key_pem,
        apns_key_id=apns.key_id,
        apns_team_id=apns.team_id,
        apns_bundle_id=apns.bundle_id,
    )


def bearer(visitor, **headers) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {tokens.issue(site_id=visitor.site_id, visitor_id=visitor.id)}",
        **headers,
    }


def register(visitor, platform: str, token: str, **headers):
    return Client().post(
        "/api/v1/visitor/devices",
        {"platform": platform, "token": token},
        content_type="application/json",
        headers=bearer(visitor, **headers),
    )


def unregister(visitor, platform: str, token: str):
    return Client().delete(
        "/api/v1/visitor/devices",
        {"platform": platform, "token": token},
        content_type="application/json",
        headers=bearer(visitor),
    )


def app_conversation(site, agent, body="Where is my parcel?"):
    return assign(visitor_writes(site, body, channel="app"), agent, START)


def reply(agent, conv, body):
    return helpdesk_services.message_send_by_agent(
        agent=agent, conversation=conv, client_id=uuid.uuid4(), body=body
    ).message


def confirm_email(visitor, email="vic@example.com"):
    visitor.email, visitor.email_verified_at = email, START
    visitor.save(update_fields=["email", "email_verified_at"])


# ---- FCM ---------------------------------------------------------------------------------------


def test_an_unseen_reply_reaches_the_app_through_fcm_once(clock, fcm, fcm_site, acme, alice):
    conv = app_conversation(acme, alice)
    vic = conv.visitor
    confirm_email(vic)  # the app is the channel Vic has: no email as well
    assert register(vic, "fcm", FCM_TOKEN).status_code == 201
    reply(alice, conv, "It ships today.")

    clock.shift(timedelta(seconds=100))
    services.scan()
    assert fcm.none_pending()

    clock.shift(timedelta(seconds=30))
    services.scan()
    sent = fcm.next()
    message = sent.body["message"]
    assert message["token"] == FCM_TOKEN
    assert message["notification"] == {
        "title": f"{acme.name} replied to your message",
        "body": "It ships today.",
    }
    assert message["data"]["conversation_id"] == str(conv.id)
    assert all(isinstance(v, str) for v in message["data"].values())  # FCM wants strings
    collapse = message["android"]["collapse_key"]
    assert len(collapse) == 32 and message["apns"]["headers"]["apns-collapse-id"] == collapse
    # The stand-in issued one access token after checking the service account's signed JWT.
    assert fcm.tokens_issued == [sent.headers["authorization"].removeprefix("Bearer ")]

    services.scan()
    clock.shift(timedelta(minutes=30))
    services.scan()
    assert fcm.none_pending()  # once
    [n] = Notification.objects.filter(conversation=conv)
    assert (n.channel, n.status, n.attempts) == ("app", "sent", 1)
    assert n.provider_message_id.startswith("projects/acme-shop/messages/")
    assert Device.objects.get().last_success_at is not None
    assert mail.outbox == []


def test_a_private_site_pushes_only_a_notice_in_the_visitors_language(
    clock, fcm, fcm_site, acme, alice
):
    acme.email_includes_reply = False
    acme.save(update_fields=["email_includes_reply"])
    conv = assign(visitor_writes(acme, "你好", language="zh-CN"), alice, START)
    register(conv.visitor, "fcm", FCM_TOKEN)
    reply(alice, conv, "secret details")
    clock.shift(timedelta(minutes=3))
    services.scan()
    message = fcm.next().body["message"]
    assert message["notification"] == {
        "title": f"{acme.name} 回复了您的消息",
        "body": "您有一条新回复。",
    }
    assert "secret" not in str(message)


def test_the_access_token_is_kept_and_fetched_again_when_refused(clock, fcm, fcm_site, acme, alice):
    first = app_conversation(acme, alice)
    register(first.visitor, "fcm", FCM_TOKEN)
    reply(alice, first, "One")
    clock.shift(timedelta(minutes=3))
    services.scan()
    fcm.next()
    second = app_conversation(acme, alice, body="Another question")
    register(second.visitor, "fcm", FCM_TOKEN[:-3] + "yyy")
    reply(alice, second, "Two")
    clock.shift(timedelta(minutes=3))
    services.scan()
    fcm.next()
    assert len(fcm.tokens_issued) == 1  # kept while valid
    fcm.revoked.add(fcm.tokens_issued[0])  # Google stops honouring it early
    third = app_conversation(acme, alice, body="A third")
    register(third.visitor, "fcm", FCM_TOKEN[:-3] + "zzz")
    reply(alice, third, "Three")
    clock.shift(timedelta(minutes=3))
    services.scan()
    assert fcm.next().body["message"]["notification"]["body"] == "Three"
    assert len(fcm.tokens_issued) == 2
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_an_uninstalled_app_is_forgotten_and_the_reply_goes_by_email_once(
    clock, fcm, fcm_site, acme, alice
):
    conv = app_conversation(acme, alice)
    confirm_email(conv.visitor)
    register(conv.visitor, "fcm", FCM_TOKEN)
    fcm.answers[FCM_TOKEN] = (404, "UNREGISTERED")
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    fcm.next()
    assert not Device.objects.exists()
    push = Notification.objects.get(channel="app")
    assert push.status == "failed" and "UNREGISTERED" in push.error
    services.scan()  # the next scan falls back to the confirmed address
    services.scan()
    [email] = mail.outbox
    assert email.to == ["vic@example.com"] and "It ships today." in email.body
    assert fcm.none_pending()


def test_a_flaky_fcm_is_retried_with_backoff_and_the_same_collapse_key(
    clock, fcm, fcm_site, acme, alice
):
    conv = app_conversation(acme, alice)
    register(conv.visitor, "fcm", FCM_TOKEN)
    fcm.answers[FCM_TOKEN] = (503, "UNAVAILABLE")
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    first = fcm.next().body["message"]
    n = Notification.objects.get()
    assert (n.status, n.attempts) == ("pending", 1) and "503" in n.error
    assert n.retry_at == START + timedelta(minutes=3, seconds=30)
    services.scan()  # backing off: no storm
    assert fcm.none_pending()
    del fcm.answers[FCM_TOKEN]
    clock.shift(timedelta(seconds=30))
    services.scan()
    second = fcm.next().body["message"]
    assert second["android"]["collapse_key"] == first["android"]["collapse_key"]
    n.refresh_from_db()
    assert (n.status, n.attempts) == ("sent", 2)
    services.scan()
    assert fcm.none_pending()


def test_a_send_left_midway_by_a_dead_worker_is_sent_again_as_the_same_push(
    clock, fcm, fcm_site, acme, alice, settings
):
    conv = app_conversation(acme, alice)
    register(conv.visitor, "fcm", FCM_TOKEN)
    message = reply(alice, conv, "It ships today.")
    Notification.objects.create(
        recipient=f"visitor:{conv.visitor_id}",
        reason="visitor_reply",
        channel="app",
        conversation=conv,
        level=message.seq,
        status="sending",
        sending_at=START,
        attempts=1,
        provider_message_id="c0ffee" * 5 + "00",
    )
    clock.shift(timedelta(seconds=settings.NOTIFY_SENDING_TIMEOUT_SECONDS + 1))
    services.scan()
    resent = fcm.next().body["message"]
    assert resent["android"]["collapse_key"] == "c0ffee" * 5 + "00"  # replaces, never stacks
    assert Notification.objects.get().status == "sent"


# ---- APNs over HTTP/2 -------------------------------------------------------------------------


def test_an_unseen_reply_reaches_an_iphone_through_apns_over_http2(
    clock, apns, apns_site, acme, alice
):
    conv = app_conversation(acme, alice)
    assert register(conv.visitor, "apns", APNS_TOKEN).status_code == 201
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    sent = apns.next()
    assert sent.http_version == "2" and sent.path == f"/3/device/{APNS_TOKEN}"
    assert sent.headers["apns-topic"] == "com.acme.shop"
    assert sent.headers["apns-push-type"] == "alert" and sent.headers["apns-priority"] == "10"
    assert len(sent.headers["apns-collapse-id"]) == 32
    assert sent.body["aps"]["alert"] == {
        "title": f"{acme.name} replied to your message",
        "body": "It ships today.",
    }
    assert sent.body["conversation_id"] == str(conv.id)
    services.scan()
    assert apns.none_pending()
    n = Notification.objects.get()
    assert n.status == "sent" and n.provider_message_id.startswith("00000000-0000-4000-8000-")


def test_an_expired_provider_token_is_made_again_once(clock, apns, apns_site, acme, alice):
    first = app_conversation(acme, alice)
    register(first.visitor, "apns", APNS_TOKEN)
    reply(alice, first, "One")
    clock.shift(timedelta(minutes=3))
    services.scan()
    apns.next()
    apns.expired.add(apns.provider_tokens[0])
    second = app_conversation(acme, alice, body="Again")
    register(second.visitor, "apns", "b2" * 32)
    reply(alice, second, "Two")
    clock.shift(timedelta(minutes=3))
    services.scan()
    assert apns.next().body["aps"]["alert"]["body"] == "Two"
    assert len(apns.provider_tokens) == 2
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_a_removed_ios_app_is_forgotten(clock, apns, apns_site, acme, alice):
    conv = app_conversation(acme, alice)
    register(conv.visitor, "apns", APNS_TOKEN)
    apns.answers[APNS_TOKEN] = (410, "Unregistered")
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    apns.next()
    assert not Device.objects.exists()
    assert Notification.objects.get().status == "failed"


def test_a_visitor_with_an_android_phone_and_an_iphone_gets_one_push_on_each(
    clock, fcm, apns, acme, alice
):
    ChannelSettings.objects.create(
        site=acme,
        fcm_service_account=fcm.service_account(),
        apns_key=apns.key_pem,
        apns_key_id=apns.key_id,
        apns_team_id=apns.team_id,
        apns_bundle_id=apns.bundle_id,
    )
    conv = app_conversation(acme, alice)
    register(conv.visitor, "fcm", FCM_TOKEN)
    register(conv.visitor, "apns", APNS_TOKEN)
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    services.scan()
    assert fcm.next().body["message"]["token"] == FCM_TOKEN
    assert apns.next().path == f"/3/device/{APNS_TOKEN}"
    assert fcm.none_pending() and apns.none_pending()
    assert Notification.objects.get().status == "sent"


def test_the_follow_up_scan_makes_the_same_queries_for_two_visitors_or_six(
    clock, fcm, fcm_site, acme, alice
):
    def due(n: int) -> int:
        Notification.objects.all().delete()
        for i in range(n):
            conv = app_conversation(acme, alice, body=f"Question {i}")
            Device.objects.create(visitor=conv.visitor, platform="fcm", token=f"{FCM_TOKEN}{n}{i}")
            reply(alice, conv, f"Answer {i}")
        clock.shift(timedelta(minutes=3))
        with CaptureQueriesContext(connection) as queries:
            created = reminders._due_visitor_followups(timezone.now())
        assert created == Notification.objects.filter(channel="app").count()
        return len(queries)

    assert due(2) == due(6)


# ---- registering phones ------------------------------------------------------------------------


def test_a_phone_is_registered_for_its_visitor_only_and_moves_to_whoever_registers_it(
    fcm_site, acme
):
    vic, eve = VisitorFactory(site=acme), VisitorFactory(site=acme)
    assert register(vic, "fcm", FCM_TOKEN).json() == {"platform": "fcm", "token": FCM_TOKEN}
    assert Device.objects.get().visitor == vic
    assert unregister(eve, "fcm", FCM_TOKEN).status_code == 404  # not Eve's to remove
    assert Device.objects.get().visitor == vic
    register(eve, "fcm", FCM_TOKEN)  # Eve signed in on the same phone
    assert Device.objects.get().visitor == eve
    assert unregister(vic, "fcm", FCM_TOKEN).status_code == 404
    assert unregister(eve, "fcm", FCM_TOKEN).status_code == 204
    assert not Device.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"platform": "fcm", "token": "short"}, "invalid_device"),
        ({"platform": "apns", "token": "not-hex" * 10}, "invalid_device"),
        ({"platform": "apns", "token": "ab" * 20}, "invalid_device"),  # too short
        ({"platform": "gcm", "token": FCM_TOKEN}, "invalid_device"),
        ({"token": FCM_TOKEN}, "invalid_device"),
    ],
)
def test_a_bad_device_is_refused_and_changes_nothing(fcm_site, acme, body, code):
    vic = VisitorFactory(site=acme)
    response = Client().post(
        "/api/v1/visitor/devices", body, content_type="application/json", headers=bearer(vic)
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert not Device.objects.exists()


def test_registering_needs_a_token_and_the_sites_credentials(acme):
    vic = VisitorFactory(site=acme)
    anonymous = Client().post(
        "/api/v1/visitor/devices",
        {"platform": "fcm", "token": FCM_TOKEN},
        content_type="application/json",
    )
    assert anonymous.status_code == 401
    unconfigured = register(vic, "apns", APNS_TOKEN)
    assert unconfigured.status_code == 409
    assert unconfigured.json()["error"]["code"] == "channel_not_configured"
    assert not Device.objects.exists()


def test_a_signed_in_user_registers_only_with_the_host_sites_proof(fcm_site, acme):
    ivy = VisitorFactory(site=acme, external_id="cust-42")
    proof = hmac.new(acme.identity_secret.encode(), b"cust-42", hashlib.sha256).hexdigest()
    refused = register(ivy, "fcm", FCM_TOKEN)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "identity_required"
    wrong = register(
        ivy, "fcm", FCM_TOKEN, **{"X-Helpdesk-User-Id": "cust-42", "X-Helpdesk-User-Hash": "0" * 64}
    )
    assert wrong.status_code == 401
    assert not Device.objects.exists()
    proven = register(
        ivy, "fcm", FCM_TOKEN, **{"X-Helpdesk-User-Id": "cust-42", "X-Helpdesk-User-Hash": proof}
    )
    assert proven.status_code == 201 and Device.objects.get().visitor == ivy
