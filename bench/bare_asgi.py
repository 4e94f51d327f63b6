"""The product's ASGI app plus one bench-only route, ``/ws/bare/``: the `ingest` baseline.

A bare Channels consumer on the same server and channel layer that does the least a chat can:
an "agent" socket joins a group; a "visitor" socket group_sends each frame it receives to
that group. No database, no authentication, no routing. Never served in production:
uvicorn runs this module only in ``bench/ingest.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

from helpdesk.asgi import application as helpdesk_application


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


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket" and scope["path"] == "/ws/bare/":
        return await bare(scope, receive, send)
    return await helpdesk_application(scope, receive, send)
