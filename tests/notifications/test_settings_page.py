"""/notifications/: people choose how they are reminded; bad input changes nothing."""

from __future__ import annotations

from datetime import time

import pytest

from notifications.models import AgentPreferences, ManagerPreferences
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_an_agent_sets_their_own_reminders(client, alice):
    client.force_login(alice.user)
    page = client.get("/notifications/")
    assert page.status_code == 200
    assert b"Reminders about unread messages" in page.content and b"Escalations" not in page.content
    response = client.post(
        "/notifications/",
        {
            "agent-push": "on",
            "agent-push_after_minutes": "3",
            "agent-email_after_minutes": "15",
            "agent-language": "zh-hans",
            "agent-timezone": "Asia/Shanghai",
            "agent-quiet_from": "22:00",
            "agent-quiet_to": "07:00",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/notifications/?saved=1"
    prefs = AgentPreferences.objects.get(agent=alice)
    assert (prefs.push, prefs.push_after_minutes, prefs.email, prefs.email_after_minutes) == (
        True,
        3,
        False,
        15,
    )
    assert (prefs.timezone, prefs.quiet_from, prefs.quiet_to) == (
        "Asia/Shanghai",
        time(22),
        time(7),
    )
    # From now on her pages speak the language she chose.
    saved = client.get(response["Location"]).content.decode()
    assert '<html lang="zh-hans">' in saved and "已保存。" in saved


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("agent-timezone", "Asia/Beijing", b"Not a time zone name"),
        ("agent-quiet_to", "", b"Quiet hours need both"),
        ("agent-push_after_minutes", "-1", b"greater than or equal to 0"),
    ],
)
def test_bad_preferences_are_refused_and_change_nothing(client, alice, field, value, message):
    client.force_login(alice.user)
    data = {
        "agent-language": "en",
        "agent-timezone": "UTC",
        "agent-quiet_from": "22:00",
        "agent-quiet_to": "07:00",
    } | {field: value}
    response = client.post("/notifications/", data)
    assert response.status_code == 200 and message in response.content
    assert not AgentPreferences.objects.exists()


def test_a_manager_chooses_escalation_channels(client, support):
    mia = UserFactory(username="mia", email="mia@example.com", is_staff=True)
    support.managers.add(mia)
    client.force_login(mia)
    page = client.get("/notifications/")
    assert b"Escalations" in page.content and b"Reminders about unread" not in page.content
    client.post("/notifications/", {"manager-push": "on", "manager-language": "en"})
    prefs = ManagerPreferences.objects.get(user=mia)
    assert (prefs.push, prefs.email) == (True, False)


def test_only_agents_and_managers_have_notification_settings(client, dave):
    assert client.get("/notifications/").status_code == 302  # to the login page
    client.force_login(dave)
    assert client.get("/notifications/").status_code == 403
