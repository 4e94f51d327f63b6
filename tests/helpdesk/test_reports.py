"""Back-office figures against a small data set computed by hand, across a time-zone edge.

Acme's team works in Shanghai (UTC+8). Three visitors, Friday 20 November 2026:
- Ann writes at 15:30 UTC (23:30 in Shanghai, still Friday there); Alice answers 120 s later.
- Ben writes at 16:30 UTC (00:30 Saturday in Shanghai) while nobody is online; Alice gets
  it 600 s later and answers 900 s after he wrote.
- Cat writes on Saturday 02:00 UTC (10:00 in Shanghai); nobody has answered yet.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from helpdesk import reports, services
from helpdesk.models import Conversation
from offline.models import OfflineMessage
from routing.models import Schedule, Shift
from tests.factories import UserFactory, VisitorFactory

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(when: datetime, fn):
    with time_machine.travel(when, tick=False):
        return fn()


@pytest.fixture
def week(acme, alice):
    acme.business_hours = Schedule.objects.create(name="Shanghai", timezone="Asia/Shanghai")
    acme.save()
    Shift.objects.create(  # Fridays 09:00-17:00 in Shanghai
        agent=alice, weekday=4, starts=time(9), ends=time(17), timezone="Asia/Shanghai"
    )
    made = {}
    for name, wrote, answered, offline in [
        ("Ann", datetime(2026, 11, 20, 15, 30, tzinfo=UTC), 120, False),
        ("Ben", datetime(2026, 11, 20, 16, 30, tzinfo=UTC), 900, True),
        ("Cat", datetime(2026, 11, 21, 2, 0, tzinfo=UTC), None, False),
    ]:
        visitor = VisitorFactory(site=acme, name=name)
        msg = at(
            wrote,
            lambda v=visitor, n=name: (
                services.message_send_by_visitor(
                    visitor=v, client_id=uuid.uuid4(), body=f"{n} asks"
                ).message
            ),
        )
        conv = Conversation.objects.get(pk=msg.conversation_id)
        if not offline:  # Alice was online: nothing kept for her
            OfflineMessage.objects.filter(conversation=conv).delete()
            Conversation.objects.filter(pk=conv.pk).update(started_offline=False)
        else:
            OfflineMessage.objects.filter(conversation=conv).update(
                state="delivered", delivered_at=wrote + timedelta(seconds=600)
            )
        if answered is not None:
            Conversation.objects.filter(pk=conv.pk).update(assigned_agent=alice)
            conv.refresh_from_db()
            at(
                wrote + timedelta(seconds=answered),
                lambda c=conv: services.message_send_by_agent(
                    agent=alice, conversation=c, client_id=uuid.uuid4(), body="hello"
                ),
            )
        made[name] = conv
    return made


def two_days(zone=SHANGHAI, **extra):
    return reports.Filters(start=date(2026, 11, 20), end=date(2026, 11, 21), zone=zone, **extra)


def test_volume_counts_each_day_in_the_sites_time_zone(week):
    friday, saturday = reports.volume(two_days())
    assert (friday["conversations"], friday["messages"], friday["offline"]) == (1, 1, 0)
    assert (saturday["conversations"], saturday["messages"], saturday["offline"]) == (2, 2, 1)
    assert saturday["offline_share"] == 0.5 and saturday["web"] == 2
    friday_utc, saturday_utc = reports.volume(two_days(ZoneInfo("UTC")))
    assert (friday_utc["conversations"], saturday_utc["conversations"]) == (2, 1)


def test_response_times(week, alice):
    figures = reports.responses(two_days())
    assert figures["overall"] == {"count": 2, "median": 510.0, "p90": 822.0}
    assert figures["started_offline"] == {"count": 1, "median": 900.0, "p90": 900.0}
    assert figures["offline_until_delivered"]["median"] == 600.0
    # Ann waited 2 min, Ben 15 min, Cat is still waiting.
    assert figures["waited_past"] == {"1 min": 3, "5 min": 2, "30 min": 1, "60 min": 1}
    assert figures["next_reply"] == {"count": 2, "median": 510.0, "p90": 822.0}
    assert figures["unanswered"] == 1
    assert figures["by_agent"][alice.pk]["median"] == 510.0
    [row] = reports.agents(two_days())
    assert row == {
        "agent": "Alice",
        "conversations": 2,
        "replies": 2,
        "median_first_response": 510.0,
        "online_hours": 0.0,
        "scheduled_hours": 8.0,
    }


def test_demand_by_weekday_and_hour(week):
    grid = reports.demand(two_days())["grid"]
    busy = {
        (weekday + 1, hour)
        for weekday, row in enumerate(grid)
        for hour, cell in enumerate(row)
        if cell["rate"]
    }
    assert busy == {(5, 23), (6, 0), (6, 10)}  # Friday 23h, Saturday 0h and 10h, in Shanghai
    assert grid[4][23] == {"rate": 1.0, "agents": 1, "scheduled": 0.0, "gap": True}
    assert grid[4][10]["scheduled"] == 1.0 and not grid[4][10]["gap"]


def erlang_c(agents: int, load: float) -> float:
    """Independent Erlang C, through the Erlang B recursion."""
    b = 1.0
    for n in range(1, agents + 1):
        b = load * b / (n + load * b)
    return agents * b / (agents - load * (1 - b))


@pytest.mark.parametrize(
    ("per_hour", "handle", "within"), [(100, 180, 20), (30, 300, 60), (8, 240, 30)]
)
def test_the_suggested_agents_are_the_fewest_that_meet_the_target(per_hour, handle, within):
    n = reports.erlang_c_agents(per_hour, handle, within)
    load = per_hour * handle / 3600

    def level(k: int) -> float:
        return 1 - erlang_c(k, load) * math.exp(-(k - load) * within / handle)

    assert level(n) >= 0.8
    assert n - 1 <= load or level(n - 1) < 0.8
    assert reports.erlang_c_agents(0, handle, within) == 0


def test_the_reports_page_and_its_csv(week, django_assert_max_num_queries):
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(boss)
    url = "/admin/reports/?start=2026-11-20&end=2026-11-21"
    # A fixed number per section, whatever the rows (percentiles set their sort memory: +3 each).
    with django_assert_max_num_queries(50):
        page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="rp-conversations">3<' in text and "8.5 min" in text  # the median, 510 s
    csv = client.get(url + f"&site={week['Ann'].site_id}&csv=volume")
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("day,conversations") and lines[2].startswith("2026-11-21,2,")
    headers = {
        "responses": "by,name,count,median,p90",
        "agents": "agent,conversations,replies,median_first_response",
        "demand": "weekday,hour,per_hour,agents",
        "service": "",
    }
    for table, header in headers.items():  # each download computes only its own table
        with django_assert_max_num_queries(20):
            download = client.get(f"{url}&csv={table}")
        assert download["Content-Disposition"].endswith(f'helpdesk-{table}.csv"')
        assert download.content.decode().startswith(header)


def test_the_reports_are_for_managers_only(client, alice, dave):
    client.force_login(dave)
    assert client.get("/admin/reports/").status_code == 302  # not staff: to the admin login
    dave.is_staff = True
    dave.save()
    assert client.get("/admin/reports/").status_code == 403  # staff without the permission


def test_the_back_office_tags_with_the_same_service(week):
    from helpdesk.models import Tag

    vip = Tag.objects.create(name="VIP")
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(boss)
    ann = week["Ann"]
    response = client.post(
        "/admin/helpdesk/conversation/",
        {"action": "add_tag", "_selected_action": [str(ann.pk)], "tag": vip.pk},
    )
    assert response.status_code == 302
    assert list(ann.tags.values_list("name", flat=True)) == ["VIP"]


def test_waits_can_be_counted_in_business_hours_only(week):
    """Shanghai opens 09:00-18:00 on weekdays here. Ann (23:30 Friday) and Ben (00:30
    Saturday) were answered while closed: no business time passed."""
    from routing.models import OpeningPeriod

    hours = week["Ann"].site.business_hours
    for day in range(5):
        OpeningPeriod.objects.create(schedule=hours, weekday=day, opens=time(9), closes=time(18))
    figures = reports.responses(two_days(business_hours=True))
    assert figures["overall"] == {"count": 2, "median": 0.0, "p90": 0.0}
    plain = reports.responses(two_days())
    assert plain["overall"]["median"] == 510.0


def test_open_seconds_spans_nights_and_weekends():
    from routing.hours import Hours, open_seconds

    weekdays = Hours("Asia/Shanghai", tuple((d, time(9), time(18)) for d in range(5)))
    friday_17 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # 17:00 Friday in Shanghai
    monday_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 Monday in Shanghai
    assert open_seconds(weekdays, friday_17, monday_10) == 2 * 3600
