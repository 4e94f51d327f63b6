"""Shifts: weekly patterns with exceptions across DST, online time from presence, and the
coverage that the demand report sets against arrivals.

Alice works Monday to Friday 09:00-17:00 in Berlin; Bob works nights in New York."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from helpdesk import services
from routing import shifts
from routing.models import OnlineSession, Shift, ShiftException

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def alice_week(alice):
    for weekday in range(5):
        Shift.objects.create(
            agent=alice, weekday=weekday, starts=time(9), ends=time(17), timezone="Europe/Berlin"
        )
    return alice


def test_planned_hours_follow_local_time_across_dst(alice_week):
    # The week of Monday 23 March 2026 to Sunday 29 March: Berlin moves to summer time on the
    # Sunday; the week after, 09:00 Berlin is 07:00 UTC instead of 08:00.
    since = datetime(2026, 3, 23, tzinfo=UTC)
    until = datetime(2026, 4, 6, tzinfo=UTC)
    plan = shifts.planned([alice_week.pk], since, until)[alice_week.pk]
    assert shifts.hours(plan) == 80.0  # ten days of eight hours
    starts = sorted(a for a, _ in plan)
    assert starts[0] == datetime(2026, 3, 23, 8, tzinfo=UTC)
    assert starts[5] == datetime(2026, 3, 30, 7, tzinfo=UTC)


def test_days_off_and_extra_shifts(alice_week):
    ShiftException.objects.create(agent=alice_week, date=date(2026, 3, 24), kind="off")
    ShiftException.objects.create(
        agent=alice_week, date=date(2026, 3, 28), kind="extra", starts=time(10), ends=time(14)
    )
    since, until = datetime(2026, 3, 23, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC)
    plan = shifts.planned([alice_week.pk], since, until)[alice_week.pk]
    assert shifts.hours(plan) == 4 * 8 + 4


def test_online_time_is_recorded_from_presence(alice):
    with time_machine.travel(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), tick=False) as clock:
        services.agent_came_online(agent_id=alice.pk)
        clock.move_to(datetime(2026, 11, 23, 12, 30, tzinfo=UTC))
        services.agent_went_offline(agent_id=alice.pk)
        clock.move_to(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
        services.agent_came_online(agent_id=alice.pk)  # still online "now", at 15:00
        clock.move_to(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
        spans = shifts.online(
            [alice.pk], datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC)
        )
    assert shifts.hours(spans[alice.pk]) == 4.5
    assert OnlineSession.objects.filter(ended_at__isnull=True).count() == 1


def test_a_session_a_dead_process_left_open_is_closed_at_the_next_login(alice):
    OnlineSession.objects.create(agent=alice, started_at=datetime(2026, 11, 20, 9, tzinfo=UTC))
    alice.last_seen_at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    alice.save(update_fields=["last_seen_at"])
    with time_machine.travel(datetime(2026, 11, 23, 9, tzinfo=UTC), tick=False):
        services.agent_came_online(agent_id=alice.pk)
    first = OnlineSession.objects.order_by("started_at").first()
    assert first.ended_at == datetime(2026, 11, 20, 10, tzinfo=UTC)  # when last seen


def test_coverage_by_weekday_and_hour(alice_week):
    since = datetime(2026, 11, 23, tzinfo=BERLIN)  # a Monday
    until = datetime(2026, 12, 7, tzinfo=BERLIN)
    plan = shifts.planned([alice_week.pk], since, until)
    grid = shifts.coverage(plan, since, until, BERLIN)
    assert grid[0][9] == 1.0 and grid[0][16] == 1.0 and grid[0][17] == 0.0
    assert grid[5][10] == 0.0  # Saturday


def test_the_weekly_view_shows_who_is_on_when(alice_week, bob, support):
    from django.contrib.auth import get_user_model
    from django.test import Client

    Shift.objects.create(
        agent=bob, weekday=2, starts=time(20), ends=time(23), timezone="America/New_York"
    )
    boss = get_user_model().objects.create_superuser("boss", "boss@example.com", None)
    client = Client()
    client.force_login(boss)
    page = client.get(f"/admin/shifts/?group={support.pk}&week=2026-11-25")  # a Wednesday
    assert page.status_code == 200
    body = page.content.decode()
    assert "Mon 23 Nov" in body and "Alice" in body
    grid = page.context["rows"]
    assert grid[0]["cells"][9] == ["Alice"]  # Monday 09:00, UTC (no group hours set)
    assert grid[3]["cells"][2] == ["Bob"]  # Wednesday 21:00 New York is Thursday 02:00 UTC
    assert grid[5]["cells"][10] == []
