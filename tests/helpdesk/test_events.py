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
