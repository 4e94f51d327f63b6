"""The volume seed makes what the reports read, in the shape they expect."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk import reports
from helpdesk.models import Conversation, Message
from routing.models import Shift

pytestmark = pytest.mark.django_db


def test_a_small_seed_and_the_reports_over_it():
    call_command("seed_volume", conversations=300, messages=3000, days=14, stdout=io.StringIO())
    assert Conversation.objects.count() == 300 and Message.objects.count() == 3000
    assert Shift.objects.count() == 3 * 5 * 5
    oldest = Conversation.objects.order_by("created_at").first().created_at
    assert oldest < timezone.now() - timedelta(days=10)  # history, not all "now"
    today = timezone.now().date()
    f = reports.Filters(
        start=today - timedelta(days=15), end=today, zone=timezone.get_current_timezone()
    )
    assert sum(d["conversations"] for d in reports.volume(f)) == 300
    figures = reports.responses(f)
    assert figures["overall"]["count"] == 300 and figures["overall"]["median"] > 0
    assert 0 < figures["started_offline"]["count"] < 300
    # A fixed number of queries, whatever the rows: the same with twice the history.
    before = queries_for(f)
    call_command("seed_volume", conversations=300, messages=3000, days=14, stdout=io.StringIO())
    assert queries_for(f) == before and before["demand"] <= 6 and before["agents"] <= 12


def queries_for(f) -> dict[str, int]:
    counts = {}
    for name, report in [("demand", reports.demand), ("agents", reports.agents)]:
        with CaptureQueriesContext(connection) as captured:
            report(f)
        counts[name] = len(captured.captured_queries)
    return counts
