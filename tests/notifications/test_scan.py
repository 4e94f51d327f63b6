"""Reminders, escalations and follow-ups through time (time-machine), email via the outbox.

People: Alice and Bob (Support agents), Mia (Support's manager), Sam (a superuser, "all
managers"), and a visitor who leaves an email.
"""

from __future__ import annotations

import uuid
from datetime import time, timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail

from helpdesk import services as helpdesk_services
from helpdesk.models import Conversation
from notifications import services
from notifications.models import AgentPreferences, Notification
from routing import presence
from tests.conversations import assign, visitor_writes
from tests.factories import UserFactory
from tests.notifications.conftest import START

pytestmark = pytest.mark.django_db


@pytest.fixture
def mia(support):
    user = UserFactory(username="mia", email="mia@example.com", password=None)
    support.managers.add(user)
    return user


@pytest.fixture
def sam(db):
    return get_user_model().objects.create_superuser("sam", "sam@example.com", None)


def write(site, body="hello", **visitor):
    return visitor_writes(site, body, **visitor)


def assign_to(conv, agent):
    return assign(conv, agent, START)


def test_an_agent_gets_one_email_after_ten_minutes_unread(clock, acme, alice):
    conv = assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=9))
    services.scan()
    assert mail.outbox == []
    clock.shift(timedelta(minutes=2))
    services.scan()
    services.scan()  # again: nothing twice
    [email] = mail.outbox
    assert email.to == [alice.user.email]
    assert f"/inbox/{conv.id}/" in email.body and "waiting" in email.subject
    assert email.alternatives and "<html" in email.alternatives[0][0]
    n = Notification.objects.get()
    assert (n.status, n.reason, n.level, n.attempts) == ("sent", "agent_unread", 1, 1)
    assert n.provider_message_id.startswith("<")


def test_nothing_is_sent_when_read_in_time_or_the_agent_is_online(clock, acme, alice, bob):
    read = assign_to(write(acme), alice)
    Conversation.objects.filter(pk=read.pk).update(agent_read_seq=read.last_seq)
    assign_to(write(acme), bob)
    clock.shift(timedelta(minutes=11))
    presence.store().connect("agent", str(bob.id), "bob-tab")  # Bob is in the inbox
    services.scan()
    assert mail.outbox == []


def test_reminders_are_checked_again_at_send_time(clock, acme, alice):
    conv = assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=11))
    Notification.objects.create(
        recipient=f"agent:{alice.id}",
        address=alice.user.email,
        reason="agent_unread",
        channel="email",
        conversation=conv,
        level=1,
    )
    Conversation.objects.filter(pk=conv.pk).update(agent_read_seq=5)  # read meanwhile
    assert services.deliver(recipient=f"agent:{alice.id}") == 0
    assert Notification.objects.get().status == "skipped" and mail.outbox == []


def test_emails_are_batched_one_per_agent_per_window(clock, acme, alice):
    first, second = assign_to(write(acme), alice), assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=11))
    services.scan()
    [email] = mail.outbox
    assert f"/inbox/{first.id}/" in email.body and f"/inbox/{second.id}/" in email.body
    clock.shift(timedelta(minutes=1))
    third = assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=11))  # due, and the window has passed
    fourth = assign_to(write(acme), alice)
    Conversation.objects.filter(pk=fourth.pk).update(waiting_since=START)  # due too (forged age)
    services.scan()
    assert len(mail.outbox) == 2 and f"/inbox/{third.id}/" in mail.outbox[1].body


def test_quiet_hours_hold_reminders_until_they_end(clock, acme, alice):
    AgentPreferences.objects.create(
        agent=alice,
        timezone="Asia/Shanghai",
        quiet_from=time(18),
        quiet_to=time(9),
        language="zh-hans",
    )
    assign_to(write(acme), alice)  # 18:00 in Shanghai
    clock.shift(timedelta(minutes=11))
    services.scan()
    assert mail.outbox == []
    clock.shift(timedelta(hours=15))  # 09:11 next morning in Shanghai
    services.scan()
    [email] = mail.outbox
    assert "等待您回复" in email.subject  # in her language


def test_the_escalation_ladder_climbs_once_per_step(clock, acme, mia, sam, alice):
    conv = write(acme)  # nobody online: it waits
    clock.shift(timedelta(minutes=4))
    services.scan()
    assert mail.outbox == []
    clock.shift(timedelta(minutes=2))
    services.scan()
    services.scan()
    assert [m.to for m in mail.outbox] == [["mia@example.com"]]
    clock.shift(timedelta(minutes=25))
    services.scan()
    assert sorted(m.to[0] for m in mail.outbox[1:]) == ["mia@example.com", "sam@example.com"]
    conv.refresh_from_db()
    assert conv.escalation_level == 2
    clock.shift(timedelta(hours=2))
    services.scan()
    assert len(mail.outbox) == 3  # each step once per conversation


def test_escalating_many_conversations_costs_the_same_queries_as_a_few(
    clock, acme, mia, django_assert_max_num_queries
):
    for n in (3, 30):
        Notification.objects.all().delete()
        for _ in range(n):
            write(acme)  # nobody online: they wait
        clock.shift(timedelta(minutes=6))
        with django_assert_max_num_queries(25):
            services.scan()
        assert Notification.objects.filter(reason="escalation").count() == n  # one email each


def test_no_escalation_for_a_conversation_someone_took(clock, acme, mia, alice):
    conv = write(acme)
    assign_to(conv, alice)
    clock.shift(timedelta(minutes=6))
    services.scan()
    assert mail.outbox == []
    assert not Notification.objects.filter(reason="escalation").exists()


def test_a_visitor_gets_the_reply_by_email_with_a_resume_link(
    clock, acme, alice, client, django_capture_on_commit_callbacks
):
    conv = assign_to(write(acme, language="en"), alice)
    with django_capture_on_commit_callbacks(execute=True):
        services.visitor_email_set(visitor=conv.visitor, email="vic@example.com")
    [verification] = mail.outbox
    link = verification.body.split(settings.PUBLIC_BASE_URL)[1].split()[0]
    assert client.get(link).status_code == 200
    helpdesk_services.message_send_by_agent(
        agent=alice, conversation=conv, client_id=uuid.uuid4(), body="Your order ships today."
    )
    clock.shift(timedelta(minutes=3))
    services.scan()
    reply = mail.outbox[1]
    assert reply.to == ["vic@example.com"] and "Your order ships today." in reply.body
    resume = reply.body.split(settings.PUBLIC_BASE_URL)[-1].split()[0]
    # The token is in the fragment, which no server (or its access log) ever receives.
    path, _, token = resume.partition("#")
    assert path == "/r/" and token
    look = client.get(path)  # a mail scanner following the link uses nothing up
    assert look.status_code == 200 and acme.widget_key not in look.content.decode()
    assert client.get(path).status_code == 200
    page = client.post(path, {"token": token})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    assert acme.widget_key in page.content.decode()
    assert client.post(path, {"token": token}).status_code == 400  # once
    assert client.post(path, {"token": "forged:token"}).status_code == 400


def test_follow_ups_respect_privacy_verification_and_what_was_seen(clock, acme, alice):
    acme.email_includes_reply = False
    acme.save(update_fields=["email_includes_reply"])
    conv = assign_to(write(acme), alice)
    helpdesk_services.message_send_by_agent(
        agent=alice, conversation=conv, client_id=uuid.uuid4(), body="secret details"
    )
    clock.shift(timedelta(minutes=3))
    services.scan()
    assert mail.outbox == []  # no verified address
    visitor = conv.visitor
    visitor.email, visitor.email_verified_at = "vic@example.com", START
    visitor.save(update_fields=["email", "email_verified_at"])
    services.scan()
    [email] = mail.outbox
    assert "secret details" not in email.body and "new reply" in email.body


def test_a_bad_verification_link_verifies_nothing(client, acme):
    assert client.get("/v/verify/forged:token/").status_code == 400
    assert client.get("/r/forged:token/").status_code == 400


def test_a_refused_address_fails_for_good_and_a_flaky_provider_is_retried(
    clock, acme, alice, monkeypatch
):
    from notifications import transports

    assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=11))

    def flaky(self, email):
        raise transports.TransportError("timeout", permanent=False)

    monkeypatch.setattr(transports.EmailTransport, "send", flaky)
    services.scan()
    n = Notification.objects.get()
    assert (n.status, n.attempts, n.retry_at) == (
        "pending",
        1,
        START + timedelta(minutes=11, seconds=30),
    )
    services.scan()  # backing off: no storm
    clock.shift(timedelta(seconds=30))
    services.scan()
    n.refresh_from_db()
    assert (n.attempts, n.retry_at) == (2, START + timedelta(minutes=12, seconds=30))  # then 60 s

    def refused(self, email):
        raise transports.TransportError("550 no such user", permanent=True)

    monkeypatch.setattr(transports.EmailTransport, "send", refused)
    clock.shift(timedelta(seconds=60))
    services.scan()
    n.refresh_from_db()
    assert (n.status, n.attempts) == ("failed", 3) and "550" in n.error
    clock.shift(timedelta(hours=1))
    services.scan()
    n.refresh_from_db()
    assert n.attempts == 3  # failed for good


def test_each_agent_email_costs_the_same_queries_for_many_conversations(
    clock, acme, alice, django_assert_max_num_queries
):
    for _ in range(15):
        assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=11))
    with django_assert_max_num_queries(30):
        services.scan()
    assert len(mail.outbox) == 1


def test_a_tick_after_the_reminders_went_out_writes_nothing(clock, acme, alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):
        assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=11))
    services.scan()
    assert len(mail.outbox) == 1
    clock.shift(timedelta(minutes=1))
    with CaptureQueriesContext(connection) as tick:
        services.scan()
    assert not [q for q in tick.captured_queries if q["sql"].startswith("INSERT")]
    assert len(mail.outbox) == 1


def test_an_agents_own_shorter_delay_is_honoured(clock, acme, alice):
    AgentPreferences.objects.create(agent=alice, email_after_minutes=3)
    assign_to(write(acme), alice)
    clock.shift(timedelta(minutes=4))
    services.scan()
    assert [m.to for m in mail.outbox] == [[alice.user.email]]
