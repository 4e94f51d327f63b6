"""Response figures per channel: how fast web, app and mini-program visitors were first
answered, on the reports page and in its CSV.

Three visitors of Acme write at 10:00 UTC on 24 November 2026: Wendy on the web (Alice
answers after 60 s), Andy in the app (after 300 s) and Mona in the mini-program (after 900 s);
Milo, in the mini-program too, is not answered yet.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from helpdesk import reports, services
from helpdesk.models import Conversation
from tests.factories import UserFactory, VisitorFactory

pytestmark = pytest.mark.django_db
WROTE = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def channels(acme, alice):
    for name, channel, answered in [
        ("Wendy", "web", 60),
        ("Andy", "app", 300),
        ("Mona", "mini_program", 900),
        ("Milo", "mini_program", None),
    ]:
        visitor = VisitorFactory(site=acme, name=name, channel=channel)
        with time_machine.travel(WROTE, tick=False):
            message = services.message_send_by_visitor(
                visitor=visitor, client_id=uuid.uuid4(), body="hello"
            ).message
        Conversation.objects.filter(pk=message.conversation_id).update(
            channel=channel, assigned_agent=alice
        )
        if answered is not None:
            conv = Conversation.objects.get(pk=message.conversation_id)
            with time_machine.travel(WROTE + timedelta(seconds=answered), tick=False):
                services.message_send_by_agent(
                    agent=alice, conversation=conv, client_id=uuid.uuid4(), body="hi"
                )


def test_first_responses_are_counted_per_channel(channels):
    f = reports.Filters(start=date(2026, 11, 24), end=date(2026, 11, 24), zone=ZoneInfo("UTC"))
    by_channel = reports.responses(f)["by_channel"]
    assert by_channel == {
        "web": {"count": 1, "median": 60.0, "p90": 60.0},
        "app": {"count": 1, "median": 300.0, "p90": 300.0},
        "mini_program": {"count": 1, "median": 900.0, "p90": 900.0},
    }
    [day] = reports.volume(f)
    assert (day["web"], day["app"], day["mini_program"]) == (1, 1, 2)


def test_the_reports_page_and_csv_show_them(channels):
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(boss)
    url = "/admin/reports/?start=2026-11-24&end=2026-11-24"
    page = client.get(url).content.decode()
    table = page.split('id="rp-channels"')[1].split("</table>")[0]
    for label, median in [("Web", "1.0 min"), ("App", "5.0 min"), ("Mini-program", "15.0 min")]:
        assert f"<td>{label}</td><td>1</td><td>{median}</td>" in table, table
    csv = client.get(f"{url}&csv=responses").content.decode().splitlines()
    assert "channel,mini_program,1,900.0,900.0" in csv
