"""The product's ASGI app plus one bench-only route, ``/ws/bare/``: the `ingest` baseline.

A bare Channels consumer on the same server and channel layer that does the least a chat can:
an "agent" socket joins a group; a "visitor" socket group_sends each frame it receives to
that group. No database, no authentication, no routing (the `hellos` baseline: a visitor
socket opened and closed). Also ``/bench/memory``: tracemalloc snapshots for
`idle_capacity` (BENCH_TRACEMALLOC=1). Never served in production: uvicorn runs this module
only in the benchmarks.
"""

from __future__ import annotations

import os
import tracemalloc
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

from helpdesk import pgpool
from helpdesk.asgi import application as helpdesk_application

if os.environ.get("BENCH_HELLO_FULL_PATH"):
    # `hellos`' reference: every hello (and message) by the full path, on the database
    # thread, as before the one-statement paths.
    pgpool.available = lambda: False


class BareRelay(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        query = parse_qs(self.scope["query_string"].decode())
        self.group = f"bare.{query['agent'][0]}"
        if query["role"][0] == "agent":
            await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.channel_layer.group_send(self.group, {"type": "relay", "text": text_data})

    async def relay(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


bare = BareRelay.as_asgi()
_snapshots: dict[str, tracemalloc.Snapshot] = {}


async def memory(scope: dict[str, Any], send: Any) -> None:
    """``/bench/memory?take=NAME`` keeps a tracemalloc snapshot; ``?diff=NAME`` answers what
    grew since, by source line (the server runs with PYTHONTRACEMALLOC set)."""
    query = parse_qs(scope["query_string"].decode())
    if not tracemalloc.is_tracing():
        body = "tracemalloc is off: start the server with PYTHONTRACEMALLOC=1"
    elif "take" in query:
        _snapshots[query["take"][0]] = tracemalloc.take_snapshot()
        body = "taken"
    else:
        grown = tracemalloc.take_snapshot().compare_to(_snapshots[query["diff"][0]], "lineno")
        body = "\n".join(str(stat) for stat in grown[:30])
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket" and scope["path"] == "/ws/bare/":
        return await bare(scope, receive, send)
    if scope["type"] == "http" and scope["path"] == "/bench/memory":
        return await memory(scope, send)
    return await helpdesk_application(scope, receive, send)
