"""/metrics: only for the holder of the token; the figures follow what happened (counters
by their change across the test, as they are process-wide), and the figures that live in the
database are read when scraped.

People: Vic writes while nobody is online; Alice signs in and gets his messages; Flo floods.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from offline.models import OfflineMessage
from tests.ws import agent_socket, send_message, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-test-token"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape() -> str:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def value(text: str, name: str, **labels: str) -> float:
    """One sample's value (0 when the series is absent: a counter not yet touched)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return 0.0


def test_without_a_token_set_there_is_no_endpoint(settings, db):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_a_wrong_or_missing_token_is_refused(token, db):
    assert Client().get("/metrics").status_code == 401
    wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer not-it")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert b"helpdesk_" not in wrong.content


async def test_the_figures_follow_a_conversation(token, acme, alice):
    before = await database_sync_to_async(scrape)()
    vic, _ = await visitor_socket(acme.widget_key)
    await send_message(vic, "Is anyone there?")
    await send_message(vic, "Hello?")
    during = await database_sync_to_async(scrape)()

    def delta(name, **labels):
        return value(during, name, **labels) - value(before, name, **labels)

    assert delta("helpdesk_messages_stored_total", channel="web", sender="visitor") == 2
    assert delta("helpdesk_hellos_total") == 1
    assert delta("helpdesk_ack_seconds_count", side="visitor") == 2
    assert delta("helpdesk_sockets_open", kind="visitor") == 1
    # Nobody online: both wait in the offline store, the oldest for as long as it has.
    assert value(during, "helpdesk_offline_pending", audience="agent") == 2
    assert 0 <= value(during, "helpdesk_offline_oldest_pending_seconds", audience="agent") < 60

    alice_sock, _ = await agent_socket(alice.user)
    await alice_sock.flush_frames()
    await send_message(vic, "Ah, you're here")
    await alice_sock.expect("message")
    after = await database_sync_to_async(scrape)()

    def since(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert since("helpdesk_messages_delivered_total", path="flush", audience="agent") == 2
    assert since("helpdesk_messages_delivered_total", path="live", audience="agent") == 1
    assert since("helpdesk_flush_seconds_count") >= 1
    assert since("helpdesk_sockets_open", kind="agent") == 1
    assert value(after, "helpdesk_offline_pending", audience="agent") == 0
    assert value(after, "helpdesk_offline_oldest_pending_seconds", audience="agent") == 0
    await alice_sock.close()
    await vic.close()
    closed = await database_sync_to_async(scrape)()
    assert value(closed, "helpdesk_sockets_open", kind="agent") == value(
        before, "helpdesk_sockets_open", kind="agent"
    )
    assert value(closed, "helpdesk_sockets_open", kind="visitor") == value(
        before, "helpdesk_sockets_open", kind="visitor"
    )


async def test_the_oldest_pending_age_is_the_oldest_rows(token, acme):
    vic, _ = await visitor_socket(acme.widget_key)
    await send_message(vic, "Hello?")
    await vic.close()
    an_hour_ago = timezone.now() - timedelta(hours=1)
    await database_sync_to_async(OfflineMessage.objects.update)(created_at=an_hour_ago)
    text = await database_sync_to_async(scrape)()
    age = value(text, "helpdesk_offline_oldest_pending_seconds", audience="agent")
    assert 3600 <= age < 3600 + 60


async def test_rate_limit_refusals_are_counted(token, settings, acme):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "visitor_messages": "1/60"}
    before = await database_sync_to_async(scrape)()
    flo, _ = await visitor_socket(acme.widget_key)
    await send_message(flo, "one")
    for _ in range(2):
        await flo.send({"type": "message.send", "client_id": str(uuid.uuid4()), "body": "x"})
        assert (await flo.expect("error"))["code"] == "rate_limited"
    await flo.close()
    after = await database_sync_to_async(scrape)()
    refused = value(after, "helpdesk_rate_limited_total", limit="visitor_messages") - value(
        before, "helpdesk_rate_limited_total", limit="visitor_messages"
    )
    assert refused == 2


def test_notifications_of_the_last_hour_by_channel_and_status(
    token, acme, django_assert_num_queries
):
    from helpdesk.models import Conversation
    from notifications.models import Notification
    from tests.factories import VisitorFactory

    conversation = Conversation.objects.create(site=acme, visitor=VisitorFactory(site=acme))
    for i, (channel, status) in enumerate(
        [("email", "sent"), ("email", "sent"), ("email", "failed"), ("push", "pending")]
    ):
        Notification.objects.create(
            recipient=f"agent:{i}",
            reason="agent_unread",
            channel=channel,
            conversation=conversation,
            status=status,
        )
    old = Notification.objects.create(
        recipient="agent:99",
        reason="agent_unread",
        channel="email",
        conversation=conversation,
        status="failed",
    )
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=2))
    # Bounded reads, whatever the history: per audience the oldest row and a capped count,
    # and the newest notification's ID then one grouped count.
    with django_assert_num_queries(6):
        text = scrape()
    got = {
        (c, s): value(text, "helpdesk_notifications_recent", channel=c, status=s)
        for c in ("email", "push")
        for s in ("sent", "failed", "pending")
    }
    assert got == {
        ("email", "sent"): 2,
        ("email", "failed"): 1,  # the one from two hours ago is not counted
        ("email", "pending"): 0,
        ("push", "sent"): 0,
        ("push", "failed"): 0,
        ("push", "pending"): 1,
    }


async def test_a_socket_whose_consumer_dies_leaves_the_count():
    """uvicorn drops the error of a send to a client already gone, and the consumer never
    runs its disconnect handler: the count is kept around the application instead."""
    from prometheus_client import REGISTRY

    from helpdesk.metrics import CountSockets

    def agents_open() -> float:
        return REGISTRY.get_sample_value("helpdesk_sockets_open", {"kind": "agent"}) or 0.0

    seen = []

    async def dies_after_accept(scope, receive, send):
        await send({"type": "websocket.accept"})
        seen.append(agents_open())
        raise ConnectionResetError("the client is gone")

    async def send(message):
        return None

    before = agents_open()
    with pytest.raises(ConnectionResetError):
        await CountSockets(dies_after_accept)(
            {"type": "websocket", "path": "/ws/agent/"}, None, send
        )
    assert seen == [before + 1]
    assert agents_open() == before
