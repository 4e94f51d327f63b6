"""The agent socket's routing frames: status.set and conversation.transfer."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from helpdesk.models import Agent, Conversation
from tests.ws import agent_socket, send_message, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_away_then_available_syncs_every_tab_and_takes_waiting_work(acme, alice):
    tab1, inbox = await agent_socket(alice.user)
    assert inbox["status"] == "available"
    await tab1.flush_frames()
    tab2, _ = await agent_socket(alice.user)
    await tab1.send({"type": "status.set", "status": "away"})
    for tab in (tab1, tab2):
        assert (await tab.expect("status"))["status"] == "away"

    visitor, _ = await visitor_socket(acme.widget_key)
    ack = await send_message(visitor, "anyone?")
    conversation_id = ack["message"]["conversation_id"]
    assert (
        await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    ).assigned_agent_id is None

    await tab2.send({"type": "status.set", "status": "available"})
    frames = await tab1.flush_frames()
    assert [c["id"] for f in frames for c in f["conversations"]] == [conversation_id]
    assert (await database_sync_to_async(Agent.objects.get)(pk=alice.pk)).status == "available"
    for s in (tab1, tab2, visitor):
        await s.close()


async def test_a_transfer_moves_the_conversation_between_inboxes(acme, sales, alice, charlie):
    alice_sock, _ = await agent_socket(alice.user)
    await alice_sock.flush_frames()
    charlie_sock, _ = await agent_socket(charlie.user)
    await charlie_sock.flush_frames()
    visitor, _ = await visitor_socket(acme.widget_key)
    ack = await send_message(visitor, "a sales question")
    conversation_id = ack["message"]["conversation_id"]
    await alice_sock.expect("message")

    await alice_sock.send(
        {
            "type": "conversation.transfer",
            "conversation_id": conversation_id,
            "to_group_id": sales.id,
            "reason": "sales",
        }
    )
    moved = await alice_sock.expect("conversation")
    assert moved["conversation"]["assigned_agent_id"] == charlie.id  # gone from Alice's inbox
    arrived = await charlie_sock.expect("conversation")
    assert arrived["conversation"]["id"] == conversation_id
    line = await visitor.expect("message")
    while (
        line["message"]["sender"] != "system"
        or line["message"]["meta"].get("kind") != "transferred"
    ):
        line = await visitor.expect("message")
    assert line["message"]["meta"] == {
        "kind": "transferred",
        "to_group": "Sales",
    }  # no reason, no names
    for s in (alice_sock, charlie_sock, visitor):
        await s.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "status.set", "status": "asleep"}, "invalid_message"),
        (
            {
                "type": "conversation.transfer",
                "conversation_id": str(uuid.uuid4()),
                "to_group_id": 1,
            },
            "not_found",
        ),
        ({"type": "conversation.transfer", "conversation_id": "CONV"}, "invalid_message"),
        (
            {
                "type": "conversation.transfer",
                "conversation_id": "CONV",
                "to_agent_id": 1,
                "to_group_id": 1,
            },
            "invalid_message",
        ),
        (
            {"type": "conversation.transfer", "conversation_id": "CONV", "to_agent_id": 999999},
            "not_found",
        ),
    ],
)
async def test_bad_routing_frames_change_nothing(acme, alice, frame, code):
    visitor, _ = await visitor_socket(acme.widget_key)
    ack = await send_message(visitor, "hi")
    frame = {k: (ack["message"]["conversation_id"] if v == "CONV" else v) for k, v in frame.items()}
    sock, _ = await agent_socket(alice.user)
    await sock.flush_frames()
    await sock.send(frame)
    assert (await sock.expect("error"))["code"] == code
    conversation = await database_sync_to_async(Conversation.objects.get)(
        pk=ack["message"]["conversation_id"]
    )
    assert conversation.assigned_agent_id == alice.id
    assert (await database_sync_to_async(Agent.objects.get)(pk=alice.pk)).status == "available"
    await sock.close()
    await visitor.close()


async def test_an_agent_of_another_group_cannot_transfer(acme, sales, alice, charlie):
    visitor, _ = await visitor_socket(acme.widget_key)
    ack = await send_message(visitor, "hi")
    sock, _ = await agent_socket(charlie.user)
    await sock.send(
        {
            "type": "conversation.transfer",
            "conversation_id": ack["message"]["conversation_id"],
            "to_agent_id": charlie.id,
        }
    )
    assert (await sock.expect("error"))["code"] == "not_found"
    await sock.close()
    await visitor.close()


async def test_resolve_closes_it_everywhere_and_a_colleague_cannot(acme, alice, bob):
    alice_sock, _ = await agent_socket(alice.user)
    await alice_sock.flush_frames()
    visitor, _ = await visitor_socket(acme.widget_key)
    ack = await send_message(visitor, "thanks, that's all")
    conversation_id = ack["message"]["conversation_id"]
    await alice_sock.expect("message")
    bob_sock, _ = await agent_socket(bob.user)
    await bob_sock.send({"type": "conversation.resolve", "conversation_id": conversation_id})
    assert (await bob_sock.expect("error"))["code"] == "not_assigned"

    await alice_sock.send({"type": "conversation.resolve", "conversation_id": conversation_id})
    closed = await alice_sock.expect("conversation")
    assert closed["conversation"]["status"] == "resolved"
    line = await visitor.expect("message")
    while (
        line["message"]["sender"] != "system" or line["message"]["meta"].get("kind") != "resolved"
    ):
        line = await visitor.expect("message")
    assert line["message"]["meta"] == {"kind": "resolved"}
    for s in (alice_sock, bob_sock, visitor):
        await s.close()
