"""Web Push end to end: subscriptions through the API, reminders through time, the real
encrypted request received by a push service stand-in on loopback and decrypted with the
subscription's keys, VAPID verified, 404/410 pruning, retries without storms.

People: Alice (Support agent), Mia (Support's manager), Dave (neither), and visitors.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client
from py_vapid import Vapid

from helpdesk import services as helpdesk_services
from helpdesk import tokens
from helpdesk.models import Conversation
from notifications import services, vapid
from notifications.models import Notification, PushSubscription
from routing import presence
from tests.conversations import assign, visitor_writes
from tests.factories import UserFactory, VisitorFactory
from tests.notifications.conftest import START
from tests.pushservice import Browser, PushService, check_vapid, start

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(settings):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid.generate()
    settings.VAPID_SUBJECT = "mailto:ops@example.com"
    settings.PUSH_SERVICE_HOSTS = ["127.0.0.1"]
    settings.PUSH_ALLOW_HTTP = True
    return settings.VAPID_PUBLIC_KEY


@pytest.fixture
def push_service(keys):
    service = PushService()
    server = start(service)
    yield service
    server.shutdown()
    server.server_close()


@pytest.fixture
def mia(support):
    user = UserFactory(username="mia", email="mia@example.com", password=None, is_staff=True)
    support.managers.add(user)
    return user


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def subscribe_staff(user, browser: Browser) -> None:
    response = signed_in(user).post(
        "/api/v1/push/subscriptions", browser.subscription(), content_type="application/json"
    )
    assert response.status_code == 201, response.content


def subscribe_visitor(visitor, browser: Browser) -> None:
    token = tokens.issue(site_id=visitor.site_id, visitor_id=visitor.id)
    response = Client().post(
        "/api/v1/visitor/push",
        browser.subscription(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.content


def write(site, body="hello", **visitor):
    return visitor_writes(site, body, **visitor)


def assign_to(conv, agent):
    return assign(conv, agent, START)


# ---- agents ----------------------------------------------------------------------------------


def test_an_unread_message_is_pushed_to_the_agent_after_two_minutes(
    clock, push_service, keys, acme, alice
):
    phone = Browser(push_service.url("alice-phone"))
    subscribe_staff(alice.user, phone)
    conv = assign_to(write(acme, body="Where is my parcel?", name="Vic"), alice)
    presence.store().connect("agent", str(alice.id), "tab")  # online, but not reading it

    clock.shift(timedelta(seconds=100))
    services.scan()
    assert push_service.none_pending()

    clock.shift(timedelta(seconds=30))
    assert services.scan()["deliveries"] == 1
    request = push_service.next()
    assert request.path == "/push/alice-phone"
    payload = phone.read(request)
    assert payload["title"] == "1 conversation waiting for your reply"
    assert payload["body"] == "Vic: Where is my parcel?"
    assert payload["url"] == f"{settings.PUBLIC_BASE_URL}/inbox/{conv.id}/"
    assert payload["conversations"] == [str(conv.id)]
    claims = check_vapid(request, keys, audience=f"http://127.0.0.1:{push_service.port}")
    assert claims["sub"] == "mailto:ops@example.com"
    assert int(request.headers["ttl"]) > 0 and len(request.headers["topic"]) <= 32

    services.scan()
    services.scan()
    assert push_service.none_pending()  # once
    n = Notification.objects.get(channel="push")
    assert (n.status, n.recipient, n.level) == ("sent", f"agent:{alice.id}", 1)
    assert n.provider_message_id.startswith(f"http://127.0.0.1:{push_service.port}/m/")
    assert mail.outbox == []  # online: no email, however long


def test_nothing_is_pushed_when_read_in_time(clock, push_service, acme, alice):
    subscribe_staff(alice.user, Browser(push_service.url("alice")))
    conv = assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=1))
    Conversation.objects.filter(pk=conv.pk).update(agent_read_seq=conv.last_seq)
    clock.shift(timedelta(minutes=5))
    services.scan()
    assert push_service.none_pending()
    assert not Notification.objects.filter(channel="push").exists()


def test_a_push_read_before_it_goes_out_is_skipped(clock, push_service, acme, alice):
    subscribe_staff(alice.user, Browser(push_service.url("alice")))
    conv = assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=3))
    Notification.objects.create(
        recipient=f"agent:{alice.id}",
        reason="agent_unread",
        channel="push",
        conversation=conv,
        level=1,
    )
    Conversation.objects.filter(pk=conv.pk).update(agent_read_seq=1)
    assert services.deliver(recipient=f"agent:{alice.id}", channel="push") == 0
    assert Notification.objects.get().status == "skipped" and push_service.none_pending()


def test_push_then_email_for_an_agent_who_is_away(clock, push_service, acme, alice):
    laptop = Browser(push_service.url("alice-laptop"))
    subscribe_staff(alice.user, laptop)
    assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=3))
    services.scan()
    assert laptop.read(push_service.next())["title"].startswith("1 conversation")
    assert mail.outbox == []
    clock.shift(timedelta(minutes=8))
    services.scan()
    [email] = mail.outbox
    assert email.to == [alice.user.email]
    assert push_service.none_pending()


def test_an_agents_push_preferences_are_honoured(clock, push_service, acme, alice):
    subscribe_staff(alice.user, Browser(push_service.url("alice")))
    services.set_agent_preferences(agent=alice, push=True, push_after_minutes=5)
    assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=3))
    services.scan()
    assert push_service.none_pending()
    clock.shift(timedelta(minutes=3))
    services.scan()
    push_service.next()
    services.set_agent_preferences(agent=alice, push=False)
    assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=6))
    services.scan()
    assert push_service.none_pending()


# ---- pruning and retries -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
def test_a_browser_that_unsubscribed_is_forgotten_and_never_retried(
    clock, push_service, acme, alice, status
):
    gone, kept = Browser(push_service.url("gone")), Browser(push_service.url("kept"))
    push_service.answers["/push/gone"] = status
    subscribe_staff(alice.user, gone)
    subscribe_staff(alice.user, kept)
    assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=3))
    services.scan()
    paths = sorted(push_service.next().path for _ in range(2))
    assert paths == ["/push/gone", "/push/kept"]
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [kept.endpoint]
    n = Notification.objects.get(channel="push")
    assert n.status == "sent" and str(status) in n.error

    # Only the gone browser: the push fails for good, and the next scans do not knock again.
    PushSubscription.objects.all().delete()
    subscribe_staff(alice.user, gone)
    assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=3))
    services.scan()
    assert push_service.next().path == "/push/gone"
    clock.shift(timedelta(minutes=10))
    services.scan()
    services.scan()
    assert push_service.none_pending()
    assert not PushSubscription.objects.exists()
    assert Notification.objects.filter(channel="push", status="failed").count() == 1


def test_a_push_service_error_is_retried_with_the_same_topic_until_it_works(
    clock, push_service, acme, alice
):
    phone = Browser(push_service.url("phone"))
    push_service.answers["/push/phone"] = 503
    subscribe_staff(alice.user, phone)
    assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=3))
    services.scan()
    first = push_service.next()
    n = Notification.objects.get(channel="push")
    assert (n.status, n.attempts) == ("pending", 1) and "503" in n.error
    del push_service.answers["/push/phone"]
    clock.shift(timedelta(seconds=30))
    services.scan()
    second = push_service.next()
    assert phone.read(second) == phone.read(first)
    n.refresh_from_db()
    assert (n.status, n.attempts) == ("sent", 2)
    assert PushSubscription.objects.get().last_success_at is not None


# ---- managers and visitors ---------------------------------------------------------------------


def test_a_waiting_conversation_is_pushed_to_the_groups_manager(clock, push_service, acme, mia):
    desk = Browser(push_service.url("mia-desk"))
    subscribe_staff(mia, desk)
    conv = write(acme, name="Vic")
    clock.shift(timedelta(minutes=6))
    services.scan()
    payload = desk.read(push_service.next())
    assert payload["title"] == "1 conversation waiting with nobody on it"
    assert payload["body"] == "Vic (Support)"
    assert payload["url"].endswith(f"/admin/helpdesk/conversation/{conv.id}/change/")
    assert [m.to for m in mail.outbox] == [["mia@example.com"]]


def test_a_visitor_is_pushed_the_reply_they_have_not_seen(clock, push_service, acme, alice):
    conv = assign_to(write(acme), alice)
    phone = Browser(push_service.url("vic"))
    subscribe_visitor(conv.visitor, phone)
    helpdesk_services.message_send_by_agent(
        agent=alice, conversation=conv, client_id=uuid.uuid4(), body="It ships today."
    )
    clock.shift(timedelta(minutes=3))
    services.scan()
    payload = phone.read(push_service.next())
    assert payload["title"] == f"{acme.name} replied to your message"
    assert payload["body"] == "It ships today."
    assert payload["url"].startswith(f"{settings.PUBLIC_BASE_URL}/r/")
    assert Client().get(payload["url"].removeprefix(settings.PUBLIC_BASE_URL)).status_code == 200
    assert mail.outbox == []  # no address left: push only


def test_a_private_site_pushes_only_a_notice(clock, push_service, acme, alice):
    acme.email_includes_reply = False
    acme.save(update_fields=["email_includes_reply"])
    conv = assign_to(write(acme, language="zh-CN"), alice)
    phone = Browser(push_service.url("vic"))
    subscribe_visitor(conv.visitor, phone)
    helpdesk_services.message_send_by_agent(
        agent=alice, conversation=conv, client_id=uuid.uuid4(), body="secret details"
    )
    clock.shift(timedelta(minutes=3))
    services.scan()
    request = push_service.next()
    assert b"secret" not in request.body
    payload = phone.read(request)
    assert payload["body"] == "您有一条新回复。" and "secret" not in json.dumps(payload)


# ---- the API -----------------------------------------------------------------------------------


def test_subscribing_needs_an_agent_or_a_manager(keys, dave, alice):
    body = Browser("http://127.0.0.1:9/push/x").subscription()
    assert (
        Client().post("/api/v1/push/subscriptions", body, content_type="application/json")
    ).status_code == 403
    response = signed_in(dave).post(
        "/api/v1/push/subscriptions", body, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_authenticated"
    csrf_checked = Client(enforce_csrf_checks=True)
    csrf_checked.force_login(alice.user)
    assert (
        csrf_checked.post("/api/v1/push/subscriptions", body, content_type="application/json")
    ).status_code == 403
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"endpoint": "https://attacker.example/collect"}, "push_service_not_allowed"),
        ({"endpoint": "http://fcm.googleapis.com/fcm/send/x"}, "push_service_not_allowed"),
        ({"endpoint": "not a url"}, "invalid_subscription"),
        ({"keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "invalid_subscription"),
        ({"keys": {"p256dh": None}}, "invalid_subscription"),
        ({"keys": "nope"}, "invalid_subscription"),
    ],
)
def test_a_bad_subscription_is_refused_and_changes_nothing(keys, settings, alice, change, code):
    settings.PUSH_SERVICE_HOSTS = ["fcm.googleapis.com"]
    settings.PUSH_ALLOW_HTTP = False
    body = Browser("https://fcm.googleapis.com/fcm/send/abc").subscription() | change
    response = signed_in(alice.user).post(
        "/api/v1/push/subscriptions", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not PushSubscription.objects.exists()


def test_a_browser_belongs_to_whoever_subscribed_it_last(keys, acme, alice, bob):
    shared = Browser("http://127.0.0.1:9/push/shared-pc")
    subscribe_staff(alice.user, shared)
    subscribe_staff(bob.user, shared)
    assert PushSubscription.objects.get().user == bob.user
    # Alice cannot remove what is now Bob's; Bob can.
    gone = signed_in(alice.user).delete(
        "/api/v1/push/subscriptions", {"endpoint": shared.endpoint}, content_type="application/json"
    )
    assert gone.status_code == 404 and PushSubscription.objects.exists()
    ok = signed_in(bob.user).delete(
        "/api/v1/push/subscriptions", {"endpoint": shared.endpoint}, content_type="application/json"
    )
    assert ok.status_code == 204 and not PushSubscription.objects.exists()


def test_a_visitor_may_only_remove_their_own_browser(keys, acme):
    vic, eve = VisitorFactory(site=acme), VisitorFactory(site=acme)
    browser = Browser("http://127.0.0.1:9/push/vic")
    subscribe_visitor(vic, browser)
    eve_token = tokens.issue(site_id=acme.id, visitor_id=eve.id)
    response = Client().delete(
        "/api/v1/visitor/push",
        {"endpoint": browser.endpoint},
        content_type="application/json",
        headers={"Authorization": f"Bearer {eve_token}"},
    )
    assert response.status_code == 404 and PushSubscription.objects.get().visitor == vic
    no_token = Client().post(
        "/api/v1/visitor/push", browser.subscription(), content_type="application/json"
    )
    assert no_token.status_code in (401, 403)


def test_without_keys_push_is_off_and_says_so(settings, alice):
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    response = signed_in(alice.user).post(
        "/api/v1/push/subscriptions",
        Browser("https://fcm.googleapis.com/fcm/send/abc").subscription(),
        content_type="application/json",
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "push_disabled"


def test_the_service_workers_are_served_at_their_scopes(client):
    for path in ("/sw.js", "/widget/sw.js"):
        response = client.get(path)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/javascript")
        assert b'addEventListener("push"' in response.content


def test_the_vapid_key_command_prints_a_usable_pair(capsys):
    call_command("vapid_keys")
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
    public, private = lines["VAPID_PUBLIC_KEY"], lines["VAPID_PRIVATE_KEY"]
    derived = Vapid.from_string(private).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert vapid.b64url(derived) == public and len(derived) == 65
