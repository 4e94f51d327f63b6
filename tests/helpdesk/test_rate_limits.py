"""Rate limits, counted in Redis: a flooding visitor is told to wait and nothing is stored;
others are not slowed. Sign-in locks after repeated failures, on both login pages.

People: Flo floods Acme's chat; Vic chats normally; Alice signs in; Mallory guesses.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from helpdesk import ratelimit
from helpdesk.models import Message, Visitor
from tests.ws import send_message, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


class StoppedClock:
    """Half a minute into every window of these limits: a test's requests never straddle a
    window's end (fixed windows start afresh on the minute, which let the fourth message of a
    flood through when the test crossed one)."""

    @staticmethod
    def time() -> float:
        return 1_800_000_030.0


@pytest.fixture
def tight(settings, monkeypatch):
    monkeypatch.setattr(ratelimit, "time", StoppedClock)
    settings.RATE_LIMITS = {
        **settings.RATE_LIMITS,
        "visitor_messages": "3/60",
        "visitor_sessions": "2/3600",
        "login_failures": "3/900",
    }


async def test_a_flooding_visitor_waits_and_others_do_not(tight, acme):
    flo, _ = await visitor_socket(acme.widget_key)
    for i in range(3):
        await send_message(flo, f"spam {i}")
    await flo.send(
        {
            "type": "message.send",
            "client_id": "6f1c2f7e-3a1e-4d8b-9c55-2c9b1d3e4f50",
            "body": "spam 3",
        }
    )
    error = await flo.expect("error")
    assert error["code"] == "rate_limited" and 1 <= error["retry_after"] <= 60
    assert error["client_id"] == "6f1c2f7e-3a1e-4d8b-9c55-2c9b1d3e4f50"
    assert await database_sync_to_async(Message.objects.filter(sender="visitor").count)() == 3
    vic, _ = await visitor_socket(acme.widget_key)  # welcomed: new chats are not limited by Flo
    await send_message(vic, "Just one question")  # not slowed by Flo
    for sock in (flo, vic):
        await sock.close()


def test_the_http_api_says_429_with_retry_after(tight, acme):
    client = Client()
    sessions = [
        client.post(
            "/api/v1/visitor/session",
            {"site_key": acme.widget_key},
            content_type="application/json",
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in sessions] == [200, 200, 200]  # a hello makes nothing
    firsts = [
        client.post(
            "/api/v1/visitor/messages",
            {"client_id": "6f1c2f7e-3a1e-4d8b-9c55-2c9b1d3e4f40", "body": "first"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {r.json()['token']}",
        )
        for r in sessions
    ]
    assert [r.status_code for r in firsts] == [201, 201, 429]  # counted as they are made
    assert firsts[2].json()["error"]["code"] == "rate_limited"
    assert int(firsts[2]["Retry-After"]) > 0
    assert Visitor.objects.count() == 2
    token = sessions[0].json()["token"]
    resumed = client.post(
        "/api/v1/visitor/session",
        {"site_key": acme.widget_key, "token": token},
        content_type="application/json",
    )
    assert resumed.status_code == 200  # returning visitors are not new chats
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    codes = [
        client.post(
            "/api/v1/visitor/messages",
            {"client_id": f"6f1c2f7e-3a1e-4d8b-9c55-2c9b1d3e4f5{i}", "body": f"m{i}"},
            content_type="application/json",
            **auth,
        ).status_code
        for i in range(4)
    ]
    assert codes == [201, 201, 429, 429]  # "first" above was the first of three


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_sign_in_locks_after_repeated_failures(tight, alice, path):
    alice.user.is_staff = True
    alice.user.save()
    mallory = Client()
    for _ in range(3):
        page = mallory.post(path, {"username": "alice", "password": "guess"})
        assert page.status_code == 200
    locked = mallory.post(path, {"username": "alice", "password": "pw-for-tests-1"})
    assert locked.status_code == 200 and "_auth_user_id" not in mallory.session
    if path == "/accounts/login/":
        assert b"Too many failed sign-ins" in locked.content
    other = Client().post(path, {"username": "bob", "password": "nope"})
    assert b"Too many" not in other.content  # someone else's name is not locked
