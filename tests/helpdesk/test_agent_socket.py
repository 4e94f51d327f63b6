"""The agent socket: login flush, two tabs, replies, read state, authorisation, bad input."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async

from helpdesk.models import Conversation, Message
from offline.models import OfflineMessage
from tests.ws import agent_socket, send_message, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def _leave_offline_messages(site_key: str, n: int) -> list[dict]:
    sock, _ = await visitor_socket(site_key)
    acks = [await send_message(sock, f"offline {i}") for i in range(n)]
    await sock.close()
    return acks


async def test_it_delivers_every_offline_message_once_on_login(acme, alice):
    acks = await _leave_offline_messages(acme.widget_key, 3)
    conversation_id = acks[0]["message"]["conversation_id"]

    agent, inbox = await agent_socket(alice.user)
    assert inbox["type"] == "inbox" and inbox["agent"]["name"] == "Alice"
    frames = await agent.flush_frames()

    delivered = [m for f in frames for m in f["messages"]]
    assert [m["id"] for m in delivered] == [a["message"]["id"] for a in acks]
    [summary] = frames[0]["conversations"]
    assert summary["id"] == conversation_id
    assert summary["unread"] == 3 and summary["waiting_since"] is not None
    assert summary["assigned_agent_id"] == alice.id
    assert await agent.nothing()
    assert not await database_sync_to_async(OfflineMessage.objects.filter(state="pending").exists)()

    # A reconnect does not deliver them again; the snapshot still shows them unread.
    await agent.close()
    again, inbox = await agent_socket(alice.user)
    assert [c["unread"] for c in inbox["conversations"]] == [3]
    frames = await again.flush_frames()
    assert [m for f in frames for m in f["messages"]] == []
    await again.close()


async def test_it_delivers_to_both_tabs_of_the_agent(acme, alice):
    tab1, _ = await agent_socket(alice.user)
    tab2, _ = await agent_socket(alice.user)
    # The first socket's (empty) flush: the second tab may have joined before or after it
    # was sent, so only the first waits for it (expect() below passes over any other frame).
    await tab1.flush_frames()
    visitor, _ = await visitor_socket(acme.widget_key)
    ack = await send_message(visitor, "hello both")
    for tab in (tab1, tab2):
        frame = await tab.expect("message")
        assert frame["message"]["id"] == ack["message"]["id"]
        assert frame["conversation"]["unread"] == 1
    # Nothing was kept offline: Alice was online.
    assert not await database_sync_to_async(OfflineMessage.objects.exists)()
    for s in (tab1, tab2, visitor):
        await s.close()


async def test_it_delivers_offline_messages_to_two_tabs_open_at_login(acme, alice):
    acks = await _leave_offline_messages(acme.widget_key, 2)
    from helpdesk.asgi import application  # noqa: F401  (same app for both tabs)

    tab1, _ = await agent_socket(alice.user)
    tab2, _ = await agent_socket(alice.user)  # opened while the flush may still run
    got1 = [m["id"] for f in await tab1.flush_frames() for m in f["messages"]]
    assert got1 == [a["message"]["id"] for a in acks]
    # The second tab either saw the same flush or loads history; either way it sees all.
    await tab2.send(
        {
            "type": "conversation.open",
            "conversation_id": acks[0]["message"]["conversation_id"],
            "after_seq": 0,
        }
    )
    history = await tab2.expect("history")
    visitor_lines = [m["id"] for m in history["messages"] if m["sender"] == "visitor"]
    assert visitor_lines == got1  # plus the system line (the offline notice) in between
    await tab1.close()
    await tab2.close()


async def test_it_reads_and_syncs_the_read_state_to_every_tab(acme, alice):
    acks = await _leave_offline_messages(acme.widget_key, 2)
    conversation_id = acks[0]["message"]["conversation_id"]
    tab1, _ = await agent_socket(alice.user)
    await tab1.flush_frames()
    tab2, _ = await agent_socket(alice.user)
    await tab1.send({"type": "conversation.read", "conversation_id": conversation_id, "seq": 99})
    for tab in (tab1, tab2):
        frame = await tab.expect("conversation")
        assert frame["conversation"]["unread"] == 0
        assert frame["conversation"]["read_seq"] == 3  # never past the end (2 + the notice)
    await tab1.close()
    await tab2.close()


async def test_it_sends_a_reply_once_per_client_id(acme, alice):
    acks = await _leave_offline_messages(acme.widget_key, 1)
    conversation_id = acks[0]["message"]["conversation_id"]
    agent, _ = await agent_socket(alice.user)
    await agent.flush_frames()
    client_id = str(uuid.uuid4())
    frame = {
        "type": "message.send",
        "conversation_id": conversation_id,
        "client_id": client_id,
        "body": "hi",
    }
    await agent.send(frame)
    first = await agent.expect("message.ack")
    await agent.send(frame)
    second = await agent.expect("message.ack")
    assert first["message"] == second["message"]
    assert first["message"]["client_id"] == client_id and first["message"]["agent_name"] == "Alice"
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.last_seq == 3 and conversation.waiting_since is None  # + the notice
    assert conversation.agent_read_seq == 3
    await agent.close()


async def test_it_refuses_a_socket_without_an_agent_login(acme, dave):
    from channels.testing import WebsocketCommunicator

    from helpdesk.asgi import application
    from tests.ws import ORIGIN, Socket

    comm = WebsocketCommunicator(application, "/ws/agent/", headers=[ORIGIN])
    await comm.connect()
    assert (await Socket(comm).recv())["code"] == "not_authenticated"
    assert (await comm.receive_output(timeout=2))["code"] == 4401

    _sock, frame = await agent_socket(dave)  # logged in, but not an agent
    assert frame["code"] == "not_authenticated"


@pytest.mark.parametrize("origin", [b"https://evil.example", None], ids=["evil", "missing"])
async def test_it_refuses_an_agent_socket_from_another_origin_with_a_reason(alice, origin):
    """Said in a frame and a close code (forbidden_origin, 4403), not a bare HTTP 403 at the
    handshake, which a client can't tell from a network failure and would retry for ever."""
    from channels.testing import WebsocketCommunicator

    from helpdesk.asgi import application
    from tests.ws import session_cookie

    cookie = await database_sync_to_async(session_cookie)(alice.user)
    headers = [(b"cookie", f"sessionid={cookie}".encode())]
    if origin:
        headers.append((b"origin", origin))
    comm = WebsocketCommunicator(application, "/ws/agent/", headers=headers)
    connected, _ = await comm.connect()
    assert connected
    frame = json.loads(await comm.receive_from(timeout=5))
    assert (frame["type"], frame["code"]) == ("error", "forbidden_origin")
    closed = await comm.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4403}


async def test_it_hides_conversations_of_other_groups(acme, alice, charlie):
    acks = await _leave_offline_messages(acme.widget_key, 1)
    conversation_id = acks[0]["message"]["conversation_id"]
    sock, inbox = await agent_socket(charlie.user)
    assert inbox["conversations"] == []
    for frame in (
        {"type": "conversation.open", "conversation_id": conversation_id},
        {"type": "conversation.read", "conversation_id": conversation_id, "seq": 1},
        {
            "type": "message.send",
            "conversation_id": conversation_id,
            "client_id": str(uuid.uuid4()),
            "body": "mine now",
        },
    ):
        await sock.send(frame)
        assert (await sock.expect("error"))["code"] == "not_found"
    assert await database_sync_to_async(Message.objects.exclude(sender="system").count)() == 1
    await sock.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("nope", "invalid_json"),
        ({"type": "conversation.delete"}, "unknown_type"),
        ({"type": "conversation.open", "conversation_id": "123"}, "invalid_message"),
        (
            {"type": "conversation.read", "conversation_id": str(uuid.uuid4()), "seq": -1},
            "invalid_message",
        ),
        (
            {
                "type": "message.send",
                "conversation_id": str(uuid.uuid4()),
                "client_id": str(uuid.uuid4()),
                "body": "",
            },
            "empty_body",
        ),
        (
            {
                "type": "message.send",
                "conversation_id": str(uuid.uuid4()),
                "client_id": str(uuid.uuid4()),
                "body": "hi",
            },
            "not_found",
        ),
    ],
)
async def test_it_refuses_bad_agent_frames(alice, frame, code):
    sock, _ = await agent_socket(alice.user)
    await sock.flush_frames()
    await sock.send(frame)
    assert (await sock.expect("error"))["code"] == code
    await sock.send({"type": "ping"})
    await sock.expect("pong")
    await sock.close()
