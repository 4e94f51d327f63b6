"""The one place realtime events leave from: after commit, over the channel layer.

The channel layer is a doorbell that may drop a frame; clients catch up from the database by
cursor, so a failed send is logged and never raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import weakref
from collections.abc import Iterable
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

Event = dict[str, Any]


def agent_group(agent_id: int) -> str:
    return f"agent.{agent_id}"


def visitor_group(visitor_id: Any) -> str:
    return f"visitor.{getattr(visitor_id, 'hex', visitor_id)}"


def site_group(site_id: Any) -> str:
    return f"site.{getattr(site_id, 'hex', site_id)}"


# Supervisors' sockets (helpdesk.supervision) hear a doorbell after every event: they read
# their own view again, scoped by the access rule. The doorbell says nothing, so nothing
# about conversations a supervisor may not see passes through it.
SUPERVISION_GROUP = "supervision"
DOORBELL = {"type": "hd.doorbell"}


def send_event_on_commit(groups: Iterable[str], event: Event) -> None:
    """Send ``event`` to every group once the current transaction commits."""
    targets = list(dict.fromkeys(groups))
    text = encode(event)
    transaction.on_commit(lambda: deliver(targets, text))


def send_event_now(groups: Iterable[str], event: Event) -> None:
    """For state that lives outside the database (presence): nothing to wait for."""
    deliver(list(dict.fromkeys(groups)), encode(event))


def send_event_from_loop(groups: Iterable[str], event: Event) -> None:
    """From a coroutine on a server's event loop, after its own statement committed (the hot
    path, ``helpdesk.services.append``): queued behind the events this loop already holds, so
    they leave in the order they were committed here."""
    _enqueue(asyncio.get_running_loop(), list(dict.fromkeys(groups)), encode(event))


def encode(event: Event) -> str:
    """Events are encoded once, here, and go to the sockets as that exact text."""
    assert "type" in event, "every event has a type"
    return json.dumps(event, separators=(",", ":"))


def close_sockets(groups: Iterable[str]) -> None:
    """Ask every socket in these groups to close (sessions ended); at most once, like events."""
    try:
        async_to_sync(_close)(list(groups))
    except Exception:
        log.exception("channel layer close failed for %s (the next frame re-checks)", groups)


async def _close(groups: list[str]) -> None:
    layer = get_channel_layer()
    for group in groups:
        await layer.group_send(group, {"type": "hd.close"})


def deliver(groups: list[str], text: str) -> None:
    """Hand the event to the channel layer. Called from a sync thread that a server's event
    loop runs (a consumer's or a view's database work), it is queued to that loop and this
    thread goes on: the thread every database call of the process shares never waits on
    Redis. Each group's events keep the order they were committed in (``_enqueue``). Anywhere else
    (a Celery worker, a management command) it is sent before returning."""
    loop = _server_loop()
    if loop is not None:
        try:
            loop.call_soon_threadsafe(_enqueue, loop, groups, text)
            return
        except RuntimeError:
            pass  # that loop has closed: send it from here
    try:
        asyncio.run_coroutine_threadsafe(_send(groups, text), _own_loop()).result(SEND_TIMEOUT)
    except Exception:
        log.exception("channel layer send failed for %s (clients will catch up)", groups)


SEND_TIMEOUT = 30.0  # seconds a sync sender waits for the channel layer
_own: tuple[int, asyncio.AbstractEventLoop] | None = None
_own_lock = threading.Lock()


def _own_loop() -> asyncio.AbstractEventLoop:
    """A process without a server loop (a Celery worker, a command) sends from one event loop
    of its own, in a thread, for its whole life: the channel layer keeps its Redis connection
    from one event to the next. (``async_to_sync`` made a loop, a thread and a connection per
    event: 2 ms each, 20 ms of a flush of ten frames.) One per process: a forked child makes
    its own."""
    global _own
    with _own_lock:
        if _own is None or _own[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="events", daemon=True).start()
            _own = (os.getpid(), loop)
        return _own[1]


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop that called into this sync thread (asgiref records it), if running."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(local, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


LANES = 8
_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Queue[Any]]] = (
    weakref.WeakKeyDictionary()
)
_drainers: set[asyncio.Task[None]] = set()


def _enqueue(loop: asyncio.AbstractEventLoop, groups: list[str], text: str) -> None:
    """On the loop: queue the event for each group in that group's lane. A lane's drainer
    sends in order, so each group (a visitor's tabs, an agent's) hears its events in the
    order they were committed here; lanes wait on Redis side by side, so one round trip at a
    time no longer caps the process's events per second."""
    lanes = _outboxes.get(loop)
    if lanes is None:
        lanes = _outboxes[loop] = [asyncio.Queue() for _ in range(LANES)]
        for lane in lanes:
            task = loop.create_task(_drain(lane))
            _drainers.add(task)
            task.add_done_callback(_drainers.discard)
    for group in groups:
        lanes[hash(group) % LANES].put_nowait((group, text))


async def _drain(lane: asyncio.Queue[Any]) -> None:
    """Send in order; the supervisors' doorbell once the lane is empty, not after each
    event: under load one ring stands for a burst (it says nothing but "look again")."""
    while True:
        group, text = await lane.get()
        try:
            layer = get_channel_layer()
            await layer.group_send(group, _message(group, text))
            if lane.empty():
                await layer.group_send(SUPERVISION_GROUP, DOORBELL)
        except Exception:
            log.exception("channel layer send failed for %s (clients will catch up)", group)


async def _send(groups: list[str], text: str) -> None:
    layer = get_channel_layer()
    for group in groups:
        await layer.group_send(group, _message(group, text))
    await layer.group_send(SUPERVISION_GROUP, DOORBELL)


def _message(group: str, text: str) -> dict[str, str]:
    """The channel layer's message: the event's text, and its group, so a socket forwards
    only its own groups' events (a visitor socket's hello joins its groups before it knows
    whether the token is enough, ``consumers.VisitorConsumer.hd_event``)."""
    return {"type": "hd.event", "text": text, "group": group}
