"""A conversation's next visitor message: one statement from the event loop
(helpdesk.services.append), with every guarantee of the full path.

People: Vic writes to Acme; Alice handles his conversation; Bob is her colleague.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from helpdesk.models import Conversation, Message, MessageToken, Tag
from offline.models import OfflineMessage
from tests.conversations import assign
from tests.ws import Socket, agent_socket, send_message, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def started(acme: Any, alice: Any) -> tuple[Socket, Socket, dict[str, Any]]:
    """Alice online, Vic's first message routed to her (the full path)."""
    alice_ws, _ = await agent_socket(alice.user)
    vic, _ = await visitor_socket(acme.widget_key)
    ack = await send_message(vic, "hello")
    await heard(alice_ws, "hello")
    return alice_ws, vic, ack


async def heard(sock: Socket, body: str) -> dict[str, Any]:
    """The next message event carrying ``body`` (others are kept in ``sock.frames``)."""
    while True:
        event = await sock.expect("message")
        if event["message"]["body"] == body:
            return event


async def pipelined(sock: Socket, client_ids: list[str]) -> dict[str, str]:
    """Send a message per client ID at once; the stored message's ID of each ack."""
    for cid in client_ids:
        await sock.send({"type": "message.send", "client_id": cid, "body": f"m {cid}"})
    acks: dict[str, str] = {}
    while len(acks) < len(client_ids):
        ack = await sock.expect("message.ack", timeout=10)
        acks[ack["client_id"]] = ack["message"]["id"]
    return acks


def conversation_of(ack: dict[str, Any]) -> Conversation:
    return Conversation.objects.get(pk=ack["message"]["conversation_id"])


async def test_the_next_message_is_one_statement_and_nothing_on_the_database_thread(
    acme, alice, statements
):
    alice_ws, vic, first = await started(acme, alice)
    conv = await database_sync_to_async(conversation_of)(first)
    await database_sync_to_async(lambda: conv.tags.add(Tag.objects.create(name="Refund")))()
    await send_message(vic, "warm")  # the loop's connections are open from here
    statements.reset()

    ack = await send_message(vic, "where is my parcel?")

    assert (len(statements.hot), statements.django) == (1, [])
    assert len(statements.redis_commands()) == 2  # the rate limit's MULTI, presence
    event = await heard(alice_ws, "where is my parcel?")
    assert ack["message"]["seq"] == event["message"]["seq"] == 3
    assert ack["message"]["client_id"] and event["message"]["client_id"] is None
    summary = event["conversation"]
    assert (summary["last_seq"], summary["unread"], summary["state"]) == (3, 3, "unread")
    assert [t["name"] for t in summary["tags"]] == ["Refund"]
    assert summary["visitor"]["id"] == str(conv.visitor_id)
    assert summary["last_message"]["body"] == "where is my parcel?"

    def stored() -> tuple[Any, ...]:
        conv.refresh_from_db()
        m = Message.objects.get(conversation=conv, seq=3)
        return (
            m.body,
            conv.last_seq,
            conv.last_visitor_seq,
            conv.last_message_at == m.created_at,
            MessageToken.objects.filter(message_id=m.pk).exists(),
            OfflineMessage.objects.filter(message=m).exists(),
        )

    assert await database_sync_to_async(stored)() == (
        "where is my parcel?",
        3,
        3,
        True,
        True,
        False,  # Alice is online: nothing kept for her
    )


async def test_a_resend_is_answered_with_the_stored_message(acme, alice):
    _, vic, _ = await started(acme, alice)
    client_id = str(uuid.uuid4())
    first = await send_message(vic, "once", client_id)
    again = await send_message(vic, "once", client_id)
    assert again["message"]["id"] == first["message"]["id"]
    count = database_sync_to_async(
        Message.objects.filter(
            conversation_id=first["message"]["conversation_id"], sender="visitor"
        ).count
    )
    assert await count() == 2  # hello, and "once" once


async def test_an_agent_gone_offline_gets_the_message_kept(acme, alice):
    alice_ws, vic, _ = await started(acme, alice)
    await alice_ws.close()
    ack = await send_message(vic, "are you there?")

    def kept() -> list[tuple[str, str]]:
        return list(
            OfflineMessage.objects.filter(message_id=ack["message"]["id"]).values_list(
                "audience", "state"
            )
        )

    assert await database_sync_to_async(kept)() == [("agent", "pending")]


async def test_a_transferred_conversation_reaches_its_new_agent(acme, alice, bob, statements):
    _, vic, first = await started(acme, alice)
    bob_ws, _ = await agent_socket(bob.user)
    await database_sync_to_async(lambda: assign(conversation_of(first), bob))()
    statements.reset()
    ack = await send_message(vic, "for Bob")
    event = await heard(bob_ws, "for Bob")
    assert event["message"]["id"] == ack["message"]["id"]
    assert statements.django  # the full path did it: the hot one wrote nothing
    ack = await send_message(vic, "again for Bob")
    await heard(bob_ws, "again for Bob")


async def test_two_tabs_sending_at_once_make_gapless_seqs_and_no_duplicates(acme, alice):
    _, vic, first = await started(acme, alice)
    token = [f for f in vic.frames if f["type"] == "welcome"][-1]["token"]
    tab, _ = await visitor_socket(acme.widget_key, token=token)
    # The second tab learns Alice from its first write (the full path), then both race.
    await send_message(tab, "tab 2 here")
    await send_message(vic, "tab 1 here")
    ids = [str(uuid.uuid4()) for _ in range(20)]
    # Each tab sends all twenty without waiting (as a client's outbox does after a
    # reconnect), one in the order given, the other backwards: every message is sent by both.
    vic_acks, tab_acks = await asyncio.gather(pipelined(vic, ids), pipelined(tab, ids[::-1]))
    assert vic_acks == tab_acks  # the same stored message, whichever tab was first

    def seqs() -> list[int]:
        conv = conversation_of(first)
        return list(Message.objects.filter(conversation=conv).values_list("seq", flat=True))

    got = await database_sync_to_async(seqs)()
    assert sorted(got) == list(range(1, len(got) + 1))
    assert len(got) == 1 + 2 + 20  # hello, one from each tab, the twenty once each


async def test_the_visitor_rate_holds_on_the_hot_path(acme, alice, settings, statements):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "visitor_messages": "3/60"}
    _, vic, _ = await started(acme, alice)  # the first of three
    await send_message(vic, "two")
    await send_message(vic, "three")
    statements.reset()
    client_id = str(uuid.uuid4())
    await vic.send({"type": "message.send", "client_id": client_id, "body": "four"})
    refused = await vic.expect("error", client_id=client_id)
    assert refused["code"] == "rate_limited" and refused["retry_after"] >= 1
    assert (statements.hot, statements.django) == ([], [])  # nothing stored, nothing tried


async def test_messages_arriving_together_share_a_statement(acme, alice, settings, statements):
    """Group commit: with one statement in flight at a time, what arrives meanwhile goes in
    the next one, together; two tabs of one visitor never share a statement."""
    settings.DATABASE_POOL_SIZE = 1
    alice_ws, _ = await agent_socket(alice.user)
    visitors = []
    for i in range(6):
        sock, _ = await visitor_socket(acme.widget_key)
        await send_message(sock, f"first {i}")  # the full path: routed to Alice
        visitors.append(sock)
    token = [f for f in visitors[0].frames if f["type"] == "welcome"][-1]["token"]
    second_tab, _ = await visitor_socket(acme.widget_key, token=token)
    await send_message(second_tab, "second tab's first")  # learns Alice
    statements.reset()

    sent = [(sock, str(uuid.uuid4())) for sock in [*visitors, second_tab]]
    for i, (sock, cid) in enumerate(sent):
        await sock.send({"type": "message.send", "client_id": cid, "body": f"together {i}"})
    acks = [await sock.expect("message.ack", client_id=cid) for sock, cid in sent]

    assert statements.django == []
    assert 2 <= len(statements.hot) < len(sent)  # shared, and the two tabs apart
    bodies = {f"together {i}" for i in range(len(sent))}
    while bodies:  # in any order across visitors
        bodies.discard((await alice_ws.expect("message"))["message"]["body"])
    first_tab_seq, second_tab_seq = acks[0]["message"]["seq"], acks[-1]["message"]["seq"]
    assert sorted([first_tab_seq, second_tab_seq]) == [3, 4]  # after "first 0" and tab 2's
    assert {a["message"]["seq"] for a in acks[1:-1]} == {2}


async def test_a_connection_the_database_dropped_is_replaced_without_losing_the_message(
    acme, alice
):
    """No health check per statement: a pooled connection found dead (a restart while it
    idled) is dropped and the statement goes again on a fresh one (idempotent by client ID)."""
    _, vic, first = await started(acme, alice)
    await send_message(vic, "opens the loop's connection")

    def drop_hot_path_connections() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'helpdesk-hot-path' AND datname = current_database()"
            )
            return int(cursor.fetchone()[0])

    assert await database_sync_to_async(drop_hot_path_connections)() >= 1
    ack = await send_message(vic, "after the restart")
    assert ack["message"]["seq"] == 3

    def bodies() -> list[str]:
        conv = conversation_of(first)
        return [m.body for m in Message.objects.filter(conversation=conv).order_by("seq")]

    assert await database_sync_to_async(bodies)() == [
        "hello",
        "opens the loop's connection",
        "after the restart",
    ]
