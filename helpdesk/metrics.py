"""Counters on the hot paths, for Prometheus (served at /metrics by helpdesk.monitoring).

Each call here is one line where the work happens (``metrics.message_stored(channel,
"visitor")``) and costs a few microseconds: label children are looked up once and kept, and
counts of work done inside a transaction are added when it commits.

With ``PROMETHEUS_MULTIPROC_DIR`` set, every process (each uvicorn worker, each Celery pool
process) writes its figures to its own memory-mapped file in that directory and /metrics
adds them up (prometheus-client's multiprocess mode). The directory must exist and be
emptied when the deployment starts (docs/operations.md). Without it, figures live in this
process (the embedded default, the test suite).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from django.db import transaction
from prometheus_client import Counter, Gauge, Histogram

P = ParamSpec("P")
R = TypeVar("R")

# In multiprocess mode every figure below opens a file in this directory as it is defined,
# and this module is imported with the Celery app, before settings run: make sure it exists.
if _multiproc := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(_multiproc, exist_ok=True)

# Acknowledgement and flush times: from a few milliseconds to the 10 s a client waits.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

MESSAGES_STORED = Counter(
    "helpdesk_messages_stored",
    "Messages stored, by the conversation's channel (web, app, mini_program) and sender.",
    ["channel", "sender"],
)
MESSAGES_DELIVERED = Counter(
    "helpdesk_messages_delivered",
    "Messages handed to a recipient's socket: live (a frame as it happened), flush (an "
    "agent's offline messages on login) or catch_up (a visitor's, in welcome).",
    ["path", "audience"],
)
ACK_SECONDS = Histogram(
    "helpdesk_ack_seconds",
    "From a message.send frame's arrival to its acknowledgement (stored and committed).",
    ["side"],
    buckets=LATENCY_BUCKETS,
)
SOCKETS_OPEN = Gauge(
    "helpdesk_sockets_open",
    "Sockets open now (accepted, not yet ended), by kind (visitor, agent).",
    ["kind"],
    multiprocess_mode="livesum",
)
HELLOS = Counter("helpdesk_hellos", "Visitor sockets welcomed (a hello accepted).")
FLUSH_SECONDS = Histogram(
    "helpdesk_flush_seconds",
    "One agent's flush on login: routing their waiting work and sending their offline messages.",
    buckets=LATENCY_BUCKETS,
)
RATE_LIMITED = Counter(
    "helpdesk_rate_limited",
    "Requests refused by a rate limit, by limit (visitor_messages, login_failures, …).",
    ["limit"],
)
TASKS = Counter(
    "helpdesk_celery_tasks",
    "Celery tasks finished, by task and state (SUCCESS, FAILURE, RETRY…).",
    ["task", "state"],
)
TASK_FAILURES = Counter(
    "helpdesk_celery_task_failures",
    "Celery tasks that raised, by task.",
    ["task"],
)


@functools.cache
def _child(metric: Any, *labels: str) -> Any:
    """A label child, looked up once (``labels()`` takes a lock and builds a key each time)."""
    return metric.labels(*labels)


def clock() -> float:
    return time.perf_counter()


def _on_commit(action: Callable[[], None]) -> None:
    """Counted once the work is committed (at once outside a transaction)."""
    transaction.on_commit(action)


def message_stored(channel: str, sender: str) -> None:
    _on_commit(_child(MESSAGES_STORED, channel, sender).inc)


def message_stored_committed(channel: str, sender: str) -> None:
    """For the hot path's one-statement writes: committed when this is called."""
    _child(MESSAGES_STORED, channel, sender).inc()


def messages_delivered(path: str, audience: str, n: int = 1) -> None:
    if n:
        child = _child(MESSAGES_DELIVERED, path, audience)
        _on_commit(lambda: child.inc(n))


def messages_delivered_committed(path: str, audience: str, n: int = 1) -> None:
    """For the hot path's one-statement writes: committed when this is called."""
    if n:
        _child(MESSAGES_DELIVERED, path, audience).inc(n)


def _kind(scope: Mapping[str, Any]) -> str:
    return "agent" if scope.get("path", "").startswith("/ws/agent") else "visitor"


_MESSAGE_EVENT = '{"type":"message"'


def frame_sent(scope: Mapping[str, Any], text: str) -> None:
    """An event written to a socket: a live message when it is one (events.py encodes
    ``type`` first, without spaces, so the prefix tells without parsing)."""
    if text.startswith(_MESSAGE_EVENT):
        _child(MESSAGES_DELIVERED, "live", _kind(scope)).inc()


def acked(side: str) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
    """Decorates a consumer's message.send handler: its time, when it acknowledged."""

    def wrap(handler: Callable[P, Any]) -> Callable[P, Any]:
        histogram = _child(ACK_SECONDS, side)

        @functools.wraps(handler)
        async def timed(*args: P.args, **kwargs: P.kwargs) -> Any:
            started = time.perf_counter()
            result = await handler(*args, **kwargs)
            histogram.observe(time.perf_counter() - started)
            return result

        return timed

    return wrap


class CountSockets:
    """ASGI middleware: a socket counts from its accept until its application returns, or
    raises (a consumer that died on a send to a client already gone never runs its own
    disconnect handler, so the count cannot live there)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        gauge = _child(SOCKETS_OPEN, _kind(scope))
        accepted = False

        async def counting_send(message: Mapping[str, Any]) -> None:
            nonlocal accepted
            await send(message)
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                gauge.inc()

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if accepted:
                gauge.dec()


def hello() -> None:
    HELLOS.inc()


def flush_timed(flush: Callable[P, R]) -> Callable[P, R]:
    """Decorates the flush on login with its duration."""

    @functools.wraps(flush)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        with FLUSH_SECONDS.time():
            return flush(*args, **kwargs)

    return timed


def rate_limited(limit: str) -> None:
    _child(RATE_LIMITED, limit).inc()


def task_finished(task: str, state: str) -> None:
    _child(TASKS, task, state).inc()


def task_failed(task: str) -> None:
    _child(TASK_FAILURES, task).inc()
