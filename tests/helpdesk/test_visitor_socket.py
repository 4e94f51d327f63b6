"""The visitor socket: hello, send, ack, catch-up, resend, and bad input."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from helpdesk.models import Conversation, Message
from offline.models import OfflineMessage
from tests.ws import agent_socket, latest_welcome, send_message, start_visitor, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_it_stores_offline_messages_with_timestamp_and_conversation(acme, alice):
    sock, welcome = await visitor_socket(acme.widget_key)
    assert welcome["agents_online"] is False
    assert welcome["conversation_id"] is None and welcome["messages"] == []

    acks = [await send_message(sock, f"hello {i}") for i in range(3)]

    conversation_ids = {a["message"]["conversation_id"] for a in acks}
    assert len(conversation_ids) == 1
    assert [a["message"]["seq"] for a in acks] == [1, 3, 4]  # 2: the offline notice

    # Events and acks interleave as the event loop schedules them: look among all frames.
    def system_lines():
        return [f for f in sock.frames if f["type"] == "message" and f["message"]["seq"] == 2]

    while not system_lines():
        await sock.recv()
    [notice] = system_lines()
    assert notice["message"]["sender"] == "system" and notice["message"]["seq"] == 2
    assert notice["message"]["meta"] == {"kind": "offline", "next_open_at": None}
    assert "offline" in notice["message"]["body"]
    assert all(a["message"]["created_at"].endswith("Z") for a in acks)
    records = await database_sync_to_async(list)(
        OfflineMessage.objects.filter(audience="agent", state="pending").order_by("created_at")
    )
    assert [str(r.message_id) for r in records] == [a["message"]["id"] for a in acks]
    assert {str(r.conversation_id) for r in records} == conversation_ids
    await sock.close()


async def test_it_acknowledges_a_resend_with_the_same_message(acme):
    sock, _ = await visitor_socket(acme.widget_key)
    client_id = str(uuid.uuid4())
    first = await send_message(sock, "only once", client_id)
    again = await send_message(sock, "only once", client_id)
    assert again["message"] == first["message"]
    assert await database_sync_to_async(Message.objects.filter(sender="visitor").count)() == 1
    await sock.close()


async def test_it_catches_up_a_returning_visitor_from_the_cursor(acme, alice):
    sock, welcome = await visitor_socket(acme.widget_key)
    assert welcome["token"] is None  # nothing stored until the first write
    first = await send_message(sock, "are you there?")
    token = latest_welcome(sock)["token"]
    notice = await sock.expect("message", timeout=5)  # the offline notice, live
    await sock.close()  # the visitor closes the page

    agent, _ = await agent_socket(alice.user)
    await agent.flush_frames()
    conversation_id = first["message"]["conversation_id"]
    for text in ("yes!", "how can I help?"):
        await agent.send(
            {
                "type": "message.send",
                "conversation_id": conversation_id,
                "client_id": str(uuid.uuid4()),
                "body": text,
            }
        )
        await agent.expect("message.ack")
    pending = await database_sync_to_async(
        OfflineMessage.objects.filter(audience="visitor", state="pending").count
    )()
    assert pending == 2

    cursor = {"conversation_id": conversation_id, "seq": notice["message"]["seq"]}
    back, welcome = await visitor_socket(acme.widget_key, token=token, cursor=cursor)
    assert [m["body"] for m in welcome["messages"]] == ["yes!", "how can I help?"]
    assert [m["agent_name"] for m in welcome["messages"]] == ["Alice", "Alice"]
    assert welcome["visitor_id"] == (await _visitor_id(conversation_id))
    delivered = await database_sync_to_async(
        OfflineMessage.objects.filter(audience="visitor", state="delivered").count
    )()
    assert delivered == 2

    # Another device of the same visitor with no cursor gets the whole conversation.
    other, welcome = await visitor_socket(acme.widget_key, token=token)
    assert [m["seq"] for m in welcome["messages"]] == [1, 2, 3, 4]
    for s in (agent, back, other):
        await s.close()


@database_sync_to_async
def _visitor_id(conversation_id: str) -> str:
    return str(Conversation.objects.get(pk=conversation_id).visitor_id)


async def test_it_pushes_an_agent_reply_live_to_every_tab_of_the_visitor(acme, alice):
    tab1, _ = await visitor_socket(acme.widget_key)
    welcome = await start_visitor(tab1)
    tab2, _ = await visitor_socket(acme.widget_key, token=welcome["token"])
    agent, _ = await agent_socket(alice.user)
    await agent.flush_frames()
    ack = await send_message(tab1, "hi")
    await agent.expect("message")
    await tab2.expect("message")  # the visitor's own message, on the other tab
    conversation_id = ack["message"]["conversation_id"]
    await agent.send(
        {
            "type": "message.send",
            "conversation_id": conversation_id,
            "client_id": str(uuid.uuid4()),
            "body": "hello!",
        }
    )
    for tab in (tab1, tab2):
        frame = await tab.expect("message")
        while frame["message"]["sender"] != "agent":
            frame = await tab.expect("message")
        assert frame["message"]["body"] == "hello!"
        assert frame["message"]["client_id"] is None  # the agent's client ID is not the visitor's
    assert (
        await database_sync_to_async(OfflineMessage.objects.filter(audience="visitor").count)() == 0
    )
    for s in (tab1, tab2, agent):
        await s.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"no": "type"}', "unknown_type"),
        ('{"type": "message.send", "client_id": "not-a-uuid", "body": "x"}', "invalid_message"),
        (
            '{"type": "message.send", "client_id": "6f1c2f7e-3a1e-4d8b-9c55-2c9b1d3e4f50"}',
            "invalid_message",
        ),
        (
            '{"type": "message.send", "client_id": "6f1c2f7e-3a1e-4d8b-9c55-2c9b1d3e4f50", "body": "   "}',
            "empty_body",
        ),
        (
            '{"type": "message.send", "client_id": "6f1c2f7e-3a1e-4d8b-9c55-2c9b1d3e4f50", "body": "'
            + "x" * 4001
            + '"}',
            "body_too_long",
        ),
        ('{"type": "hello", "site_key": "again"}', "invalid_message"),
    ],
)
async def test_it_refuses_bad_frames_and_keeps_serving(acme, frame, code):
    sock, _ = await visitor_socket(acme.widget_key)
    await sock.send(frame)
    error = await sock.expect("error")
    assert error["code"] == code
    assert error["detail"]
    assert await database_sync_to_async(Message.objects.count)() == 0
    ack = await send_message(sock, "still here")  # the socket still serves
    assert ack["message"]["seq"] == 1
    await sock.close()


async def test_it_closes_on_an_oversized_frame(acme):
    sock, _ = await visitor_socket(acme.widget_key)
    await sock.send('{"type": "ping", "pad": "' + "x" * 70_000 + '"}')
    assert (await sock.expect("error"))["code"] == "frame_too_large"
    assert (await sock.comm.receive_output(timeout=2))["code"] == 1009


@pytest.mark.parametrize(
    "token",
    ["forged.token:value", "eyJzIjoiMDAifQ:1tQx:abc"],
)
async def test_it_refuses_a_forged_token(acme, token):
    from tests.ws import ORIGIN, Socket, WebsocketCommunicator, application

    comm = WebsocketCommunicator(application, "/ws/visitor/", headers=[ORIGIN])
    await comm.connect()
    sock = Socket(comm)
    await sock.send({"type": "hello", "site_key": acme.widget_key, "token": token})
    assert (await sock.expect("error"))["code"] == "invalid_token"
    assert (await comm.receive_output(timeout=2))["code"] == 4401


async def test_it_refuses_an_expired_token_and_one_for_another_site(acme, settings):
    from helpdesk import tokens
    from tests.factories import SiteFactory, VisitorFactory
    from tests.ws import ORIGIN, Socket, WebsocketCommunicator, application

    visitor = await database_sync_to_async(VisitorFactory)(site=acme)
    other = await database_sync_to_async(SiteFactory)(name="Other")
    valid = tokens.issue(site_id=acme.id, visitor_id=visitor.id)
    for site_key, token, days in ((acme.widget_key, valid, 0), (other.widget_key, valid, 90)):
        settings.VISITOR_TOKEN_MAX_AGE_DAYS = days
        comm = WebsocketCommunicator(application, "/ws/visitor/", headers=[ORIGIN])
        await comm.connect()
        sock = Socket(comm)
        await sock.send({"type": "hello", "site_key": site_key, "token": token})
        error = await sock.expect("error")
        assert error["code"] == "invalid_token"
        assert (await comm.receive_output(timeout=2))["code"] == 4401


async def test_it_refuses_frames_before_hello_and_unknown_sites(acme):
    from tests.ws import ORIGIN, Socket, WebsocketCommunicator, application

    comm = WebsocketCommunicator(application, "/ws/visitor/", headers=[ORIGIN])
    await comm.connect()
    sock = Socket(comm)
    await sock.send({"type": "message.send", "client_id": str(uuid.uuid4()), "body": "sneaky"})
    assert (await sock.expect("error"))["code"] == "not_authenticated"
    assert (await comm.receive_output(timeout=2))["code"] == 4401

    comm = WebsocketCommunicator(application, "/ws/visitor/", headers=[ORIGIN])
    await comm.connect()
    sock = Socket(comm)
    await sock.send({"type": "hello", "site_key": "wk_nope"})
    assert (await sock.expect("error"))["code"] == "unknown_site"
    assert (await comm.receive_output(timeout=2))["code"] == 4404
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_a_visitor_leaves_an_email_and_gets_a_verification_link(acme, mailoutbox):
    sock, _ = await visitor_socket(acme.widget_key)
    await sock.send({"type": "visitor.email", "email": "not an email"})
    assert (await sock.expect("error"))["code"] == "invalid_message"
    await sock.send({"type": "visitor.email", "email": "vic@example.com"})
    assert (await sock.expect("visitor.email")) == {
        "type": "visitor.email",
        "email": "vic@example.com",
        "verified": False,
    }
    assert [m.to for m in mailoutbox] == [["vic@example.com"]]
    assert "/v/verify/" in mailoutbox[0].body
    await sock.close()
