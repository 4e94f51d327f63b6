"""Delivered and seen receipts from the visitor's side, shown to the handling agent."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from helpdesk.models import Conversation, Message
from helpdesk.services.sending import visitor_receipt
from offline.models import OfflineMessage
from tests.factories import ConversationFactory, MessageFactory
from tests.ws import agent_socket, send_message, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_receipts_reach_the_agent_forward_only_and_capped(acme, alice):
    alice_tab, _ = await agent_socket(alice.user)
    await alice_tab.flush_frames()
    visitor, _ = await visitor_socket(acme.widget_key)
    ack = await send_message(visitor, "hello")  # Alice is online: assigned to her
    conv_id = ack["message"]["conversation_id"]
    await alice_tab.expect("message")
    await alice_tab.send(
        {
            "type": "message.send",
            "conversation_id": conv_id,
            "client_id": str(__import__("uuid").uuid4()),
            "body": "Hi! How can I help?",
        }
    )
    reply = await visitor.expect("message")
    while reply["message"]["sender"] != "agent":  # the visitor's own line comes back first
        reply = await visitor.expect("message")
    seq = reply["message"]["seq"]
    assert seq == 2

    await visitor.send(
        {"type": "receipt", "conversation_id": conv_id, "delivered_seq": seq, "seen_seq": 0}
    )
    receipt = await alice_tab.expect("receipt", conversation_id=conv_id)
    assert (receipt["delivered_seq"], receipt["seen_seq"]) == (seq, 0)
    await visitor.send(
        {"type": "receipt", "conversation_id": conv_id, "delivered_seq": 0, "seen_seq": 999}
    )
    receipt = await alice_tab.expect("receipt", conversation_id=conv_id)
    assert (receipt["delivered_seq"], receipt["seen_seq"]) == (seq, seq)  # capped at the end
    await visitor.send(
        {"type": "receipt", "conversation_id": conv_id, "delivered_seq": 1, "seen_seq": 1}
    )
    assert await alice_tab.nothing()  # nothing moved back, nothing to tell
    conv = await database_sync_to_async(Conversation.objects.get)(pk=conv_id)
    assert (conv.visitor_delivered_seq, conv.visitor_seen_seq) == (seq, seq)

    other, _ = await visitor_socket(acme.widget_key)  # someone else's conversation
    await other.send(
        {"type": "receipt", "conversation_id": conv_id, "delivered_seq": 1, "seen_seq": 1}
    )
    assert (await other.expect("error"))["code"] == "not_found"
    await other.send({"type": "receipt", "conversation_id": conv_id, "delivered_seq": -1})
    assert (await other.expect("error"))["code"] == "invalid_message"
    for sock in (alice_tab, visitor, other):
        await sock.close()


def test_apps_send_receipts_over_http(client, acme, alice):
    session = client.post(
        "/api/v1/visitor/session",
        {"site_key": acme.widget_key, "token": None, "channel": "app"},
        content_type="application/json",
    ).json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {session['token']}"}
    sent = client.post(
        "/api/v1/visitor/messages",
        {"client_id": "6f1c2f7e-3a1e-4d8b-9c55-2c9b1d3e4f50", "body": "Where is my order?"},
        content_type="application/json",
        **auth,
    ).json()["message"]
    ok = client.post(
        "/api/v1/visitor/receipts",
        {"conversation_id": sent["conversation_id"], "delivered_seq": 2, "seen_seq": 2},
        content_type="application/json",
        **auth,
    )
    assert ok.status_code == 204
    conv = Conversation.objects.get(pk=sent["conversation_id"])
    assert conv.visitor_seen_seq == 2
    missing = client.post(
        "/api/v1/visitor/receipts",
        {"conversation_id": "6f1c2f7e-3a1e-4d8b-9c55-2c9b1d3e4f50", "delivered_seq": 1},
        content_type="application/json",
        **auth,
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_the_visitor_sees_when_the_agent_has_read_their_messages(acme, alice):
    visitor, _ = await visitor_socket(acme.widget_key)
    ack = await send_message(visitor, "anyone?")
    conv_id = ack["message"]["conversation_id"]
    await database_sync_to_async(Conversation.objects.filter(pk=conv_id).update)(
        assigned_agent=alice
    )
    tab, _ = await agent_socket(alice.user)
    await tab.send({"type": "conversation.read", "conversation_id": conv_id, "seq": 1})
    seen = await visitor.expect("seen")
    assert seen == {"type": "seen", "conversation_id": conv_id, "seq": 1}
    await tab.send({"type": "conversation.read", "conversation_id": conv_id, "seq": 1})
    await tab.expect("conversation")
    assert await visitor.nothing()  # nothing moved: nothing to tell
    for sock in (visitor, tab):
        await sock.close()


def test_a_receipt_marks_the_visitors_waiting_replies_delivered(acme, alice):
    """An app that catches up over HTTP and says so gets no email or push follow-up for what
    it already has; what it has not received stays waiting."""
    conv = ConversationFactory(visitor__site=acme, assigned_agent=alice)
    replies = [
        MessageFactory(conversation=conv, seq=seq, sender=Message.Sender.AGENT, agent=alice)
        for seq in (1, 2, 3)
    ]
    Conversation.objects.filter(pk=conv.pk).update(last_seq=3)
    for m in replies:
        OfflineMessage.objects.create(
            message=m,
            conversation=conv,
            audience=OfflineMessage.Audience.VISITOR,
            created_at=timezone.now(),
        )
    assert visitor_receipt(visitor=conv.visitor, conversation_id=conv.pk, delivered_seq=2)
    states = dict(
        OfflineMessage.objects.filter(conversation=conv).values_list("message__seq", "state")
    )
    delivered, pending = OfflineMessage.State.DELIVERED, OfflineMessage.State.PENDING
    assert states == {1: delivered, 2: delivered, 3: pending}
