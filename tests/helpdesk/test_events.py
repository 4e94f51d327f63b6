"""Events and the process's one database thread (docs/architecture.md, "One database thread
per web process"): a socket's events never wait on it, and events committed on it leave in
order without holding it."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from helpdesk import events
from tests.ws import start_visitor, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_event_reaches_vics_socket_while_the_database_thread_is_busy(acme):
    vic, _ = await visitor_socket(acme.widget_key)
    welcome = await start_visitor(vic)
    busy, release = threading.Event(), threading.Event()

    def hold_the_database_thread() -> None:
        busy.set()
        release.wait(10)

    holder = asyncio.ensure_future(database_sync_to_async(hold_the_database_thread)())
    assert await asyncio.to_thread(busy.wait, 5)
    try:
        await get_channel_layer().group_send(
            events.visitor_group(uuid.UUID(welcome["visitor_id"])),
            {"type": "hd.event", "text": '{"type": "probe"}'},
        )
        await vic.expect("probe", timeout=3)  # Channels' own dispatch would wait for `release`
    finally:
        release.set()
        await holder
    await vic.close()


async def test_events_sent_from_the_database_thread_leave_in_order(acme):
    vic, _ = await visitor_socket(acme.widget_key)
    welcome = await start_visitor(vic)
    group = events.visitor_group(uuid.UUID(welcome["visitor_id"]))

    def fifty_events() -> None:
        for n in range(50):
            events.send_event_now([group], {"type": "probe", "n": n})

    await database_sync_to_async(fifty_events)()
    assert [(await vic.expect("probe"))["n"] for _ in range(50)] == list(range(50))
    await vic.close()


async def test_a_process_without_a_server_loop_sends_from_one_loop_of_its_own(acme, monkeypatch):
    """A Celery worker's events are sent before the call returns, in order, from one event
    loop kept for the process: its channel layer connection outlives one event (a loop and a
    connection per event cost 2 ms each, a fifth of a flush's frames)."""
    vic, _ = await visitor_socket(acme.widget_key)
    welcome = await start_visitor(vic)
    group = events.visitor_group(uuid.UUID(welcome["visitor_id"]))
    loops = []
    send = events._send

    async def noting_the_loop(groups, text):
        loops.append(asyncio.get_running_loop())
        await send(groups, text)

    monkeypatch.setattr(events, "_send", noting_the_loop)

    def fifty_events() -> None:  # a plain thread, as a worker runs its task
        for n in range(50):
            events.send_event_now([group], {"type": "probe", "n": n})
            assert len(loops) == n + 1  # sent before returning

    await asyncio.to_thread(fifty_events)
    assert [(await vic.expect("probe"))["n"] for _ in range(50)] == list(range(50))
    assert len(set(map(id, loops))) == 1 and loops[0] is not asyncio.get_running_loop()
    await vic.close()
