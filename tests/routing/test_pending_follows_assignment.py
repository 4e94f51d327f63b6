"""Whenever a conversation becomes an agent's, by any path, what of it still waits in the
offline store is pushed to them: the interleaving that left a visitor message pending.

Vic writes M while nobody is online (kept for the agent). Alice comes online; her login
flush ran before M was stored. Vic writes M2: its routing gives the conversation to Alice
inside M2's transaction, and M2 reaches her live. Meanwhile the route task queued after M
runs and finds the row locked by M2. Before the fix M stayed pending until her next login.
"""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from django.db import connection, connections, transaction

from helpdesk import events, services
from helpdesk.models import Conversation
from offline.models import OfflineMessage
from routing import presence
from routing import services as routing_services
from tests.factories import VisitorFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch):
    frames: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(
        events, "deliver", lambda groups, text: frames.append((groups, json.loads(text)))
    )
    return frames


def _waiting_for_a_lock(pid: int, timeout: float = 10) -> None:
    """Until backend ``pid`` waits on a lock (it is blocked, not merely slow)."""
    import time

    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} never waited on a lock within {timeout} s")


def test_a_message_kept_offline_reaches_the_agent_its_conversation_goes_to(acme, alice, sent):
    vic = VisitorFactory(site=acme, name="Vic")
    m = services.message_send_by_visitor(visitor=vic, client_id=uuid.uuid4(), body="M").message
    kept = OfflineMessage.objects.get(message=m, audience="agent")
    assert kept.state == "pending"
    presence.store().connect("agent", str(alice.id), "alice-tab")  # her flush already ran

    in_m2 = threading.Event()
    commit_m2 = threading.Event()
    route_pid: list[int] = []
    routed: list[int | None] = []
    failures: list[BaseException] = []

    def second_message() -> None:
        try:
            with transaction.atomic():
                services.message_send_by_visitor(visitor=vic, client_id=uuid.uuid4(), body="M2")
                in_m2.set()
                assert commit_m2.wait(20), "the test never let M2 commit"
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            in_m2.set()
        finally:
            connection.close()

    def route_task() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                route_pid.append(cursor.fetchone()[0])
            routed.append(
                routing_services.conversation_route_waiting(conversation_id=m.conversation_id)
            )
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=second_message)
    writer.start()
    assert in_m2.wait(20) and not failures, failures
    router = threading.Thread(target=route_task)
    router.start()
    # The route task waits for M2's lock (it no longer skips a locked row) or, had it
    # returned at once, finished; either way M2 commits now.
    while not route_pid:
        router.join(0.02)
    router.join(0.5)
    if router.is_alive():
        _waiting_for_a_lock(route_pid[0])
    commit_m2.set()
    writer.join(20)
    router.join(20)
    assert not writer.is_alive() and not router.is_alive() and not failures, failures

    conversation = Conversation.objects.get(pk=m.conversation_id)
    assert conversation.assigned_agent_id == alice.id
    kept.refresh_from_db()
    assert kept.state == "delivered", "M is still waiting in the offline store"
    flushed = [
        msg["id"]
        for groups, event in sent
        if groups == [events.agent_group(alice.id)] and event["type"] == "flush"
        for msg in event["messages"]
    ]
    assert flushed.count(str(m.id)) == 1


def test_claiming_a_waiting_conversation_by_replying_pushes_what_waited(acme, alice, sent):
    vic = VisitorFactory(site=acme, name="Vic")
    m = services.message_send_by_visitor(visitor=vic, client_id=uuid.uuid4(), body="M").message
    conversation = Conversation.objects.get(pk=m.conversation_id)
    services.message_send_by_agent(
        agent=alice, conversation=conversation, client_id=uuid.uuid4(), body="Hi Vic"
    )
    assert OfflineMessage.objects.get(message=m, audience="agent").state == "delivered"


def test_a_transfer_to_an_online_agent_pushes_what_waited(acme, alice, bob, sent):
    vic = VisitorFactory(site=acme, name="Vic")
    m = services.message_send_by_visitor(visitor=vic, client_id=uuid.uuid4(), body="M").message
    presence.store().connect("agent", str(bob.id), "bob-tab")
    routing_services.conversation_transfer(
        conversation_id=m.conversation_id, by_name="Alice", to_agent_id=bob.id
    )
    assert OfflineMessage.objects.get(message=m, audience="agent").state == "delivered"
