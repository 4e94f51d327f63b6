"""The reports' outcome figures against conversations of known ages, ratings and tags, set up
through the services at known times (time-machine).

People: Alice and Bob (Support), Charlie (Sales), Mia (manages Support only, staff).
It is Friday 20 November 2026, noon UTC.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from helpdesk import reports, satisfaction, services
from helpdesk.admin_reports import EXPORTS, collapsed
from helpdesk.models import Conversation, Tag
from tests.factories import UserFactory, VisitorFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")


def at(when: datetime, fn, *args, **kwargs):
    with time_machine.travel(when, tick=False):
        return fn(*args, **kwargs)


def writes(site, when: datetime, visitor=None) -> Conversation:
    visitor = visitor or VisitorFactory(site=site)
    msg = at(
        when,
        lambda: (
            services.message_send_by_visitor(
                visitor=visitor, client_id=uuid.uuid4(), body="hello"
            ).message
        ),
    )
    return Conversation.objects.get(pk=msg.conversation_id)


def answers(conv: Conversation, agent, when: datetime) -> None:
    at(
        when,
        services.message_send_by_agent,
        agent=agent,
        conversation=conv,
        client_id=uuid.uuid4(),
        body="on it",
    )


def resolves(conv: Conversation, when: datetime) -> Conversation:
    at(when, services.conversation_resolve, conversation_id=conv.pk, by_name="Alice")
    conv.refresh_from_db()
    return conv


def period(**extra) -> reports.Filters:
    return reports.Filters(start=date(2026, 11, 1), end=date(2026, 11, 30), zone=UTC_ZONE, **extra)


# ---- waiting for a first answer --------------------------------------------------------------


def test_each_conversation_counts_only_in_the_buckets_its_own_wait_passed(acme, alice):
    hours_ago = NOW - timedelta(hours=3)
    quick = writes(acme, hours_ago)
    answers(quick, alice, hours_ago + timedelta(seconds=40))  # 40 s: no bucket
    slow = writes(acme, hours_ago)
    answers(slow, alice, hours_ago + timedelta(minutes=10))  # 10 min: 1 and 5
    writes(acme, NOW - timedelta(minutes=4))  # still waiting, 4 min: 1 only
    writes(acme, NOW - timedelta(hours=2))  # still waiting, 2 h: all four
    left = writes(acme, hours_ago)
    resolves(left, hours_ago + timedelta(minutes=20))  # resolved unanswered after 20 min: 1, 5
    figures = at(NOW, reports.responses, period())
    assert figures["waited_past"] == {"1 min": 4, "5 min": 3, "30 min": 1, "60 min": 1}
    assert figures["unanswered"] == 3


# ---- satisfaction and tags ------------------------------------------------------------------------


@pytest.fixture
def rated(acme, alice, bob, charlie, sales):
    vip, refund = Tag.objects.create(name="VIP"), Tag.objects.create(name="Refund")

    def conversation(agent, group, tags, scale=None, score=None):
        conv = writes(acme, NOW - timedelta(days=2))
        Conversation.objects.filter(pk=conv.pk).update(group=group)
        conv.refresh_from_db()
        answers(conv, agent, NOW - timedelta(days=2) + timedelta(minutes=1))
        conv.tags.set(tags)
        resolves(conv, NOW - timedelta(days=1))
        if score is not None:
            acme.satisfaction = scale
            acme.save(update_fields=["satisfaction"])
            satisfaction.rating_give(conversation_id=conv.pk, score=score)
        return conv

    support = alice.groups.get()
    return {
        "c1": conversation(alice, support, [vip], "five", 5),
        "c2": conversation(alice, support, [vip, refund], "five", 2),
        "c3": conversation(bob, support, [], "thumbs", 5),  # good
        "c4": conversation(charlie, sales, [refund], "thumbs", 1),  # bad
        "c5": conversation(alice, support, []),  # not rated
        "tags": (vip, refund),
    }


def test_satisfaction_by_agent_team_and_tag(rated, alice, bob, charlie, sales):
    sat = at(NOW, reports.satisfaction, period())
    assert sat["overall"] == {"count": 4, "satisfied_share": 0.5, "average": 3.5}
    assert sat["by_agent"] == {
        alice.pk: {"count": 2, "satisfied_share": 0.5, "average": 3.5},
        bob.pk: {"count": 1, "satisfied_share": 1.0, "average": None},
        charlie.pk: {"count": 1, "satisfied_share": 0.0, "average": None},
    }
    support = alice.groups.get()
    assert sat["by_group"] == {
        support.pk: {"count": 3, "satisfied_share": 2 / 3, "average": 3.5},
        sales.pk: {"count": 1, "satisfied_share": 0.0, "average": None},
    }
    vip, refund = rated["tags"]
    assert sat["by_tag"] == {
        vip.pk: {"count": 2, "satisfied_share": 0.5, "average": 3.5},
        refund.pk: {"count": 2, "satisfied_share": 0.0, "average": 2.0},
    }
    assert at(NOW, reports.tags, period()) == {
        vip.pk: {"name": "VIP", "color": vip.color, "conversations": 2},
        refund.pk: {"name": "Refund", "color": refund.color, "conversations": 2},
    }


def test_a_manager_of_one_group_rates_only_what_they_see(rated, alice):
    mia = UserFactory(username="mia", is_staff=True)
    mia.user_permissions.add(Permission.objects.get(codename="view_conversation"))
    alice.groups.get().managers.add(mia)
    client = Client()
    client.force_login(mia)
    with time_machine.travel(NOW, tick=False):
        csv = client.get("/admin/reports/?start=2026-11-01&end=2026-11-30&csv=satisfaction")
        rows = csv.content.decode().splitlines()
        page = client.get("/admin/reports/?start=2026-11-01&end=2026-11-30").content.decode()
    assert rows[0] == "by,name,count,satisfied_share,average"
    assert rows[1].startswith("all,all,3,")  # Charlie's Sales rating is not hers
    assert not any("Charlie" in r or "Sales" in r for r in rows)
    assert "Charlie" not in page and "Sales" not in page


# ---- resolution and reopening -------------------------------------------------------------------------


def test_resolution_time_and_reopen_rate(acme, alice, support):
    start = NOW - timedelta(days=18)
    back_soon, back_late = VisitorFactory(site=acme), VisitorFactory(site=acme)
    for visitor, took, back in [
        (back_soon, timedelta(minutes=30), timedelta(days=3)),  # writes again: reopened
        (back_late, timedelta(hours=2), timedelta(days=8)),  # after the window: not
        (None, timedelta(minutes=10), None),
    ]:
        conv = writes(acme, start, visitor)
        answers(conv, alice, start + timedelta(minutes=1))
        resolves(conv, start + took)
        if back:
            writes(acme, start + took + back, conv.visitor)
    res = at(NOW, reports.resolution, period())
    assert res["overall"] == {
        "count": 3,
        "median": 1800.0,
        "p90": 6120.0,  # between 1800 and 7200, as percentile_cont
        "reopened": 1,
        "reopen_rate": 1 / 3,
    }
    assert res["by_group"][support.pk]["reopened"] == 1
    assert res["by_agent"][alice.pk]["count"] == 3


# ---- the page: quiet days, a CSV for every table, queries that do not grow ------------------------------


def test_quiet_days_collapse_into_one_row():
    days = reports.Filters(start=date(2026, 11, 1), end=date(2026, 11, 7), zone=UTC_ZONE)
    rows = [
        {"day": days.start + timedelta(days=i), "conversations": n, "messages": n, "offline": 0}
        for i, n in enumerate([0, 0, 3, 0, 0, 0, 1])
    ]
    shown = collapsed(rows)
    assert [(r.get("quiet", False), r["day"].day, r.get("days")) for r in shown] == [
        (True, 1, 2),
        (False, 3, None),
        (True, 4, 3),
        (False, 7, None),
    ]
    assert shown[2]["until"] == date(2026, 11, 6)


def boss_client() -> Client:
    client = Client()
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    return client


def test_every_table_has_a_csv(rated):
    client = boss_client()
    url = "/admin/reports/?start=2026-11-01&end=2026-11-30"
    with time_machine.travel(NOW, tick=False):
        page = client.get(url).content.decode()
        for table in EXPORTS:
            assert f"csv={table}" in page, table
            got = client.get(f"{url}&csv={table}")
            assert got.status_code == 200 and got["Content-Type"].startswith("text/csv")
            assert got["Content-Disposition"].endswith(f'helpdesk-{table}.csv"')
        tags = client.get(f"{url}&csv=tags").content.decode().splitlines()
    assert tags[0] == "tag,conversations,rated_count,rated_satisfied_share,rated_average"
    assert sorted(tags[1:]) == ["Refund,2,2,0.0,2.0", "VIP,2,2,0.5,3.5"]
    assert "no conversations" in page  # the month's quiet days, collapsed


def test_the_page_costs_the_same_queries_for_few_conversations_as_for_many(acme, alice):
    client = boss_client()
    url = "/admin/reports/?start=2026-11-01&end=2026-11-30"
    counts = []
    for batch in (2, 10):
        for i in range(batch):
            conv = writes(acme, NOW - timedelta(days=3, minutes=i))
            answers(conv, alice, NOW - timedelta(days=3, minutes=i) + timedelta(seconds=30))
            resolves(conv, NOW - timedelta(days=2))
            satisfaction.rating_give(conversation_id=conv.pk, score=4)
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_grouped_figures_are_the_same_in_sql_and_in_python(rated, acme, alice, bob):
    """duration_sets' one query on PostgreSQL against the plain Python path (SQLite's)."""
    from datetime import timedelta as td

    from django.db.models import F, Q

    resolved = Conversation.objects.filter(resolved_at__isnull=False)
    took = F("resolved_at") - F("first_visitor_at")
    keys = {"group": F("group_id"), "agent": F("assigned_agent_id")}
    flags = {"slow": Q(resolved_at__gt=F("first_visitor_at") + td(hours=23))}
    in_sql = reports.duration_sets(resolved, took, keys, flags)
    rows = resolved.annotate(k0=F("group_id"), k1=F("assigned_agent_id")).values_list(
        "k0", "k1", "resolved_at", "first_visitor_at"
    )
    plain = [(g, a, r - v, r - v > td(hours=23)) for g, a, r, v in rows]
    in_python = reports._sets_in_python(plain, ["group", "agent"], ["slow"])
    assert in_sql == in_python
    assert in_sql["all"]["count"] == 5 and set(in_sql["agent"]) == {
        alice.pk,
        bob.pk,
        rated["c4"].assigned_agent_id,
    }
