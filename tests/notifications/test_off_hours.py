"""Escalation outside business hours: the digest at the start of the shift (default), the
ladder around the clock, or nothing until the shift. Support works 09:00-18:00 in Shanghai,
Monday to Friday; Mia manages Support; Sam is a superuser (the ladder's "all managers")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail

from helpdesk import services as helpdesk_services
from helpdesk.models import AgentGroup, Conversation
from notifications import services
from notifications.models import Notification
from notifications.services import reminders as scan_service
from routing import selectors as routing_selectors
from routing.models import OpeningPeriod, Schedule
from tests.factories import UserFactory, VisitorFactory

pytestmark = pytest.mark.django_db

NIGHT = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # Tuesday 02:00 in Shanghai
SHIFT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 09:00 in Shanghai


@pytest.fixture
def office_hours(support):
    hours = Schedule.objects.create(name="Shanghai office", timezone="Asia/Shanghai")
    for day in range(5):
        OpeningPeriod.objects.create(schedule=hours, weekday=day, opens=time(9), closes=time(18))
    AgentGroup.objects.filter(pk=support.pk).update(business_hours=hours)


@pytest.fixture
def managers(support):
    mia = UserFactory(username="mia", email="mia@example.com", password=None)
    support.managers.add(mia)
    get_user_model().objects.create_superuser("sam", "sam@example.com", None)


@pytest.fixture
def clock():
    with time_machine.travel(NIGHT, tick=False) as traveller:
        yield traveller


def write(site, name="Vic"):
    visitor = VisitorFactory(site=site, name=name)
    msg = helpdesk_services.message_send_by_visitor(
        visitor=visitor, client_id=uuid.uuid4(), body="hello?"
    ).message
    return Conversation.objects.get(pk=msg.conversation_id)


def recipients():
    return sorted(m.to[0] for m in mail.outbox)


def test_the_night_is_summed_up_once_when_the_shift_starts(clock, acme, office_hours, managers):
    night_owl = write(acme, name="Night Owl")
    clock.shift(timedelta(hours=2))
    services.scan()
    assert mail.outbox == []  # off hours: nobody is woken up

    clock.move_to(SHIFT - timedelta(minutes=1))
    services.scan()
    assert mail.outbox == []
    clock.move_to(SHIFT + timedelta(seconds=30))
    services.scan()
    services.scan()
    [digest] = mail.outbox
    assert digest.to == ["mia@example.com"]
    assert digest.subject == "1 conversation waited outside business hours"
    assert "Night Owl" in digest.body and str(night_owl.id) in digest.body
    assert Notification.objects.get().level == int(SHIFT.timestamp() // 60)

    # The ladder counts from the shift start, not from 02:00: no "all managers" at 09:00.
    early_bird = None
    clock.move_to(SHIFT + timedelta(minutes=4))
    services.scan()
    assert len(mail.outbox) == 1
    early_bird = write(acme, name="Early Bird")  # arrives in hours: no digest for it
    clock.move_to(SHIFT + timedelta(minutes=5, seconds=30))
    services.scan()
    assert recipients() == ["mia@example.com", "mia@example.com"]  # step 1, to the group
    clock.move_to(SHIFT + timedelta(minutes=31))
    services.scan()
    assert recipients() == ["mia@example.com"] * 3 + ["sam@example.com"]
    assert not Notification.objects.filter(reason="digest", conversation=early_bird).exists()


def test_a_digest_leaves_out_what_someone_took_meanwhile(
    clock, acme, office_hours, managers, alice
):
    write(acme, name="Taken")
    kept = write(acme, name="Still waiting")
    clock.move_to(SHIFT + timedelta(seconds=30))
    taken = Conversation.objects.exclude(pk=kept.pk).get()
    # Rows made, then Alice takes one.
    scan_service._due_digests(
        SHIFT + timedelta(seconds=30), routing_selectors.HoursCache(), scan_service._Audiences()
    )
    Conversation.objects.filter(pk=taken.pk).update(assigned_agent=alice)
    services.scan()
    [digest] = [m for m in mail.outbox if m.to == ["mia@example.com"]]
    assert "Still waiting" in digest.body and "Taken" not in digest.body
    assert digest.subject == "1 conversation waited outside business hours"


def test_the_ladder_policy_escalates_around_the_clock(
    clock, settings, acme, office_hours, managers
):
    settings.NOTIFY_OFF_HOURS = "ladder"
    write(acme)
    clock.shift(timedelta(minutes=6))
    services.scan()
    assert recipients() == ["mia@example.com"]
    assert not Notification.objects.filter(reason="digest").exists()


def test_the_none_policy_waits_for_the_shift_and_sends_no_digest(
    clock, settings, acme, office_hours, managers
):
    settings.NOTIFY_OFF_HOURS = "none"
    write(acme)
    clock.move_to(SHIFT + timedelta(seconds=30))
    services.scan()
    assert mail.outbox == []
    clock.move_to(SHIFT + timedelta(minutes=5, seconds=30))
    services.scan()
    assert recipients() == ["mia@example.com"]
