"""Live supervision over /ws/supervisor/ through the real ASGI application.

People: Mia manages Support and is no agent; Alice and Bob are Support's agents; Charlie is
Sales' agent (Acme's other team); Dave is signed in and nobody's manager; Sam manages Support
and is an agent of it too (so he can take over).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk import access, supervision_selectors
from helpdesk.asgi import application
from helpdesk.models import Conversation
from privacy.models import AuditEntry
from routing import presence
from tests.factories import AgentFactory, ConversationFactory, UserFactory, VisitorFactory
from tests.ws import ORIGIN, Socket, send_message, session_cookie, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async


async def supervisor(user: Any, origin: tuple[bytes, bytes] | None = ORIGIN) -> Socket:
    cookie = await db(session_cookie)(user)
    headers = [(b"cookie", f"sessionid={cookie}".encode())] + ([origin] if origin else [])
    comm = WebsocketCommunicator(application, "/ws/supervisor/", headers=headers)
    connected, _ = await comm.connect()
    assert connected
    return Socket(comm)


@pytest.fixture
def mia(support):
    user = UserFactory(username="mia")
    support.managers.add(user)
    return user


@pytest.fixture
def sam(support):
    agent = AgentFactory(user=UserFactory(username="sam"), display_name="Sam", member_of=[support])
    support.managers.add(agent.user)
    return agent


def waiting(site, group, minutes: float = 0, **fields: Any) -> Conversation:
    since = timezone.now() - timedelta(minutes=minutes)
    return ConversationFactory(
        visitor=VisitorFactory(site=site, name=f"V{uuid.uuid4().hex[:5]}"),
        group=group,
        waiting_since=since,
        queued_at=since,
        **fields,
    )


def queue_ids(view: dict[str, Any], group_id: int) -> set[str]:
    [team] = [g for g in view["groups"] if g["id"] == group_id]
    return {c["id"] for c in team["waiting"]}


async def test_a_manager_without_an_agent_profile_sees_her_teams_only(
    acme, support, sales, mia, alice, charlie
):
    ours = await db(waiting)(acme, support, minutes=1)
    theirs = await db(waiting)(acme, sales, minutes=1)
    sock = await supervisor(mia)
    view = await sock.expect("supervision")
    assert [g["name"] for g in view["groups"]] == ["Support"]
    assert queue_ids(view, support.pk) == {str(ours.pk)}
    assert [a["name"] for a in view["groups"][0]["agents"]] == ["Alice"]
    assert view["me"] == {"agent_id": None}
    assert str(theirs.pk) not in str(view)  # nothing of Sales, anywhere in the frame

    await sock.send({"type": "conversation.open", "conversation_id": str(ours.pk)})
    assert (await sock.expect("history"))["conversation"]["id"] == str(ours.pk)
    for frame in (
        {"type": "conversation.open", "conversation_id": str(theirs.pk)},
        {
            "type": "conversation.transfer",
            "conversation_id": str(theirs.pk),
            "to_agent_id": alice.pk,
        },
    ):
        await sock.send(frame)
        assert (await sock.expect("error"))["code"] == "not_found", frame
    await sock.send({"type": "conversation.take", "conversation_id": str(ours.pk)})
    refused = await sock.expect("error")
    assert refused["code"] == "not_assigned" and "agent profile" in refused["detail"]
    fresh = await db(Conversation.objects.get)(pk=theirs.pk)
    assert fresh.assigned_agent_id is None
    await sock.close()


async def test_nobody_else_gets_a_supervisor_socket(dave, alice, mia):
    for user in (dave, alice.user):  # no role; an agent who manages nothing
        sock = await supervisor(user)
        assert (await sock.expect("error"))["code"] == "not_authenticated"
        assert (await sock.comm.receive_output(timeout=2))["type"] == "websocket.close"
    sock = await supervisor(mia, origin=(b"origin", b"https://evil.example"))
    assert (await sock.expect("error"))["code"] == "forbidden_origin"


async def test_the_view_follows_the_queue_live(acme, support, mia, alice):
    sock = await supervisor(mia)
    first = await sock.expect("supervision")
    assert first["groups"][0]["waiting_count"] == 0
    vic, _ = await visitor_socket(acme.widget_key)
    conv_id = (await send_message(vic, "Is anyone there?"))["message"]["conversation_id"]
    # Waited for: a frame listing it (the doorbell rings after the commit; bursts read once).
    for _ in range(10):
        view = await sock.expect("supervision", timeout=5)
        if conv_id in queue_ids(view, support.pk):
            break
    else:
        raise AssertionError(f"never listed {conv_id}; last frames {sock.frames[-2:]}")
    [item] = view["groups"][0]["waiting"]
    assert item["visitor"].startswith("Visitor") and item["waiting_since"]
    await vic.close()
    await sock.close()


async def test_a_manager_reassigns_and_takes_over_through_the_transfer_service(
    acme, support, sam, alice, bob
):
    conv = await db(waiting)(acme, support, minutes=2)
    sock = await supervisor(sam.user)
    await sock.expect("supervision")
    await sock.send(
        {"type": "conversation.transfer", "conversation_id": str(conv.pk), "to_agent_id": bob.pk}
    )
    await sock.expect("transferred", conversation_id=str(conv.pk))
    assert (await db(Conversation.objects.get)(pk=conv.pk)).assigned_agent_id == bob.pk
    await sock.send({"type": "conversation.take", "conversation_id": str(conv.pk)})
    await sock.expect("transferred", conversation_id=str(conv.pk))
    assert (await db(Conversation.objects.get)(pk=conv.pk)).assigned_agent_id == sam.pk
    log = await db(
        lambda: list(
            AuditEntry.objects.order_by("pk").values_list("action", "actor_name", "group_id")
        )
    )()
    assert log == [("transfer", "Sam", support.pk), ("takeover", "Sam", support.pk)]
    await sock.send(
        {"type": "conversation.transfer", "conversation_id": str(conv.pk), "to_agent_id": 999999}
    )
    assert (await sock.expect("error"))["code"] == "not_found"
    await sock.close()


@pytest.mark.django_db
def test_at_risk_are_those_past_the_target_escalated_or_reminded(acme, support, mia, alice):
    support.wait_target_seconds = 120
    support.save(update_fields=["wait_target_seconds"])
    fresh = waiting(acme, support, minutes=1)
    late = waiting(acme, support, minutes=3)
    escalated = waiting(acme, support, minutes=0.5, escalation_level=1)
    answered_late = waiting(acme, support, minutes=5, assigned_agent=alice)
    view = supervision_selectors.snapshot(access.actor_for(mia))
    risky = {c["id"] for c in view["at_risk"]}
    assert risky == {str(late.pk), str(escalated.pk), str(answered_late.pk)}
    assert str(fresh.pk) not in risky
    [agent] = view["groups"][0]["agents"]
    assert (agent["name"], agent["load"], agent["online"]) == ("Alice", 1, False)
    assert agent["conversations"][0]["id"] == str(answered_late.pk)
    presence.store().connect("agent", str(alice.pk), "chan-1")
    assert supervision_selectors.snapshot(access.actor_for(mia))["groups"][0]["agents"][0]["online"]


@pytest.mark.django_db
def test_the_view_costs_the_same_queries_for_a_long_queue(acme, support, mia, alice, bob):
    actor = access.actor_for(mia)
    counts = []
    for n in (2, 80):
        for i in range(n):
            waiting(acme, support, minutes=i, assigned_agent=alice if i % 3 == 0 else None)
        with CaptureQueriesContext(connection) as queries:
            view = supervision_selectors.snapshot(actor)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert len(view["groups"][0]["waiting"]) == supervision_selectors.QUEUE_SHOWN
    assigned = 1 + 27  # every third one is Alice's
    assert view["groups"][0]["waiting_count"] == 82 - assigned


@pytest.mark.django_db
def test_the_page_is_for_those_who_supervise(mia, dave, alice):
    from django.test import Client

    assert Client().get("/supervision/").status_code == 302  # to sign in
    for user, status in ((mia, 200), (dave, 403), (alice.user, 403)):
        client = Client()
        client.force_login(user)
        assert client.get("/supervision/").status_code == status, user
    client = Client()
    client.force_login(mia)
    text = client.get("/supervision/").content.decode()
    assert "/ws/supervisor/" in text and "helpdesk/supervision.js" in text
    assert 'id="sv-link-inbox"' not in text  # no agent profile: no inbox link
