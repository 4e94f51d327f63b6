"""Regression tests for review findings: hostile frames, sessions that end, partial failures."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client

from helpdesk.models import Message
from helpdesk.services import sending
from tests.ws import agent_socket, latest_welcome, send_message, start_visitor, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("frame", ['{"type": ["x"]}', '{"type": {}}', "[" * 50_000])
async def test_hostile_frames_get_an_error_and_the_socket_keeps_serving(acme, frame):
    sock, _ = await visitor_socket(acme.widget_key)
    await sock.send(frame)
    assert (await sock.expect("error"))["code"] in {"unknown_type", "invalid_json"}
    assert (await send_message(sock, "still here"))["message"]["seq"] == 1
    await sock.close()


@pytest.mark.parametrize(
    "cursor", [{"conversation_id": "nope", "seq": 1}, {"seq": "abc"}, [1, 2], "x"]
)
async def test_a_malformed_cursor_is_refused_and_hello_can_be_said_again(acme, cursor):
    from tests.ws import ORIGIN, Socket, WebsocketCommunicator, application

    comm = WebsocketCommunicator(application, "/ws/visitor/", headers=[ORIGIN])
    await comm.connect()
    sock = Socket(comm)
    await sock.send({"type": "hello", "site_key": acme.widget_key, "cursor": cursor})
    assert (await sock.expect("error"))["code"] == "invalid_message"
    await sock.send({"type": "message.send", "client_id": str(uuid.uuid4()), "body": "x"})
    assert (await sock.expect("error"))["code"] == "not_authenticated"  # not half-bound


async def test_the_catch_up_after_a_cursor_is_complete_however_long(acme, settings):
    settings.VISITOR_HISTORY_LIMIT = 3
    sock, welcome = await visitor_socket(acme.widget_key)
    acks = [await send_message(sock, f"m{i}") for i in range(8)]
    welcome = latest_welcome(sock)
    await sock.close()
    cursor = {"conversation_id": acks[0]["message"]["conversation_id"], "seq": 1}
    back, welcome = await visitor_socket(acme.widget_key, welcome["token"], cursor)
    assert [m["seq"] for m in welcome["messages"]] == list(range(2, 10))  # 8 + the notice
    await back.close()


async def test_a_deactivated_agents_next_frame_closes_the_socket(acme, alice):
    sock, _ = await agent_socket(alice.user)
    await sock.flush_frames()
    User = get_user_model()
    await database_sync_to_async(User.objects.filter(pk=alice.user_id).update)(is_active=False)
    await sock.send({"type": "ping"})
    assert (await sock.expect("error"))["code"] == "not_authenticated"
    assert (await sock.comm.receive_output(timeout=2))["code"] == 4401


async def test_logging_out_closes_the_agents_open_sockets(acme, alice):
    sock, _ = await agent_socket(alice.user)
    await sock.flush_frames()

    def logout() -> None:
        client = Client()
        client.force_login(alice.user)
        client.post("/accounts/logout/")

    await database_sync_to_async(logout)()
    assert (await sock.expect("error"))["code"] == "not_authenticated"
    assert (await sock.comm.receive_output(timeout=2))["code"] == 4401


async def test_an_agent_reads_but_cannot_answer_a_colleagues_conversation(acme, alice, bob):
    alice_sock, _ = await agent_socket(alice.user)
    await alice_sock.flush_frames()
    visitor, _ = await visitor_socket(acme.widget_key)
    ack = await send_message(visitor, "for alice")
    conversation_id = ack["message"]["conversation_id"]
    bob_sock, _ = await agent_socket(bob.user)
    await bob_sock.send({"type": "conversation.open", "conversation_id": conversation_id})
    assert len((await bob_sock.expect("history"))["messages"]) == 1
    await bob_sock.send(
        {
            "type": "message.send",
            "conversation_id": conversation_id,
            "client_id": str(uuid.uuid4()),
            "body": "mine",
        }
    )
    assert (await bob_sock.expect("error"))["code"] == "not_assigned"
    assert await database_sync_to_async(Message.objects.count)() == 1
    for s in (alice_sock, bob_sock, visitor):
        await s.close()


async def test_a_failure_after_commit_still_acks_and_notifies(acme, monkeypatch):
    """The message is committed: whatever fails afterwards, the client must hear so."""

    def boom(conversation):
        raise RuntimeError("broker down")

    monkeypatch.setattr(sending, "after_offline_agent_message", boom)
    tab1, _ = await visitor_socket(acme.widget_key)
    welcome = await start_visitor(tab1)
    tab2, _ = await visitor_socket(acme.widget_key, welcome["token"])
    ack = await send_message(tab1, "kept")
    echoed = []
    while ack["message"]["id"] not in echoed:
        echoed.append((await tab2.expect("message"))["message"]["id"])
    await tab1.close()
    await tab2.close()


async def test_presence_outage_stores_the_message_offline(acme, alice, monkeypatch):
    import redis

    from offline.models import OfflineMessage
    from routing import presence

    class Down:
        def online(self, *args, **kwargs):
            raise redis.ConnectionError("down")

        def connect(self, *args, **kwargs):
            return False

        def disconnect(self, *args, **kwargs):
            return False

        def clear(self):
            pass

    sock, _ = await visitor_socket(acme.widget_key)
    monkeypatch.setattr(presence, "store", lambda: Down())
    ack = await send_message(sock, "during the outage")
    assert ack["message"]["seq"] == 1
    assert await database_sync_to_async(OfflineMessage.objects.filter(state="pending").count)() == 1
    await sock.close()


async def test_a_client_gone_mid_send_does_not_end_the_consumer_before_its_disconnect():
    """uvicorn raises ClientDisconnected (an OSError) from a send to a socket that has just
    gone; the consumer must live on to receive the disconnect and clean up."""
    from uvicorn.protocols.utils import ClientDisconnected

    from helpdesk.consumers import VisitorConsumer

    consumer = VisitorConsumer()
    consumer.scope = {"type": "websocket", "path": "/ws/visitor/"}

    async def gone(message):
        raise ClientDisconnected()

    consumer.base_send = gone
    await consumer.send(text_data="{}")  # no exception
    await consumer.hd_event({"type": "hd.event", "text": '{"type": "message"}'})
