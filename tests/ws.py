"""Socket helpers: real consumers through the real ASGI application."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from helpdesk.asgi import application

ORIGIN = (b"origin", b"http://localhost")


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class Socket:
    """A connected client that keeps every frame it received, in order."""

    def __init__(self, comm: WebsocketCommunicator) -> None:
        self.comm = comm
        self.frames: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.comm.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = 5) -> dict[str, Any]:
        frame = json.loads(await self.comm.receive_from(timeout=timeout))
        self.frames.append(frame)
        return frame

    async def expect(self, type_: str, timeout: float = 5, **match: Any) -> dict[str, Any]:
        """Wait for the next frame of ``type_`` (and matching fields), keeping the others."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(timeout=max(0.01, deadline - loop.time()))
            if frame["type"] == type_ and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def expect_any(self, types: tuple[str, ...], timeout: float = 5) -> dict[str, Any]:
        """The next frame of any of ``types``, keeping the others."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(timeout=max(0.01, deadline - loop.time()))
            if frame["type"] in types:
                return frame

    async def flush_frames(self) -> list[dict[str, Any]]:
        """Every ``flush`` frame up to the final one."""
        frames = []
        while True:
            frame = await self.expect("flush", timeout=10)
            frames.append(frame)
            if frame["final"]:
                return frames

    async def nothing(self, timeout: float = 0.3) -> bool:
        return await self.comm.receive_nothing(timeout=timeout)

    async def close(self) -> None:
        await self.comm.disconnect()


async def agent_socket(
    user: Any, *, origin: tuple[bytes, bytes] | None = ORIGIN
) -> tuple[Socket, dict[str, Any]]:
    cookie = await database_sync_to_async(session_cookie)(user)
    headers = [(b"cookie", f"sessionid={cookie}".encode())]
    if origin:
        headers.append(origin)
    comm = WebsocketCommunicator(application, "/ws/agent/", headers=headers)
    connected, _ = await comm.connect()
    assert connected
    sock = Socket(comm)
    return sock, await sock.recv()


async def visitor_socket(
    site_key: str, token: str | None = None, cursor: dict[str, Any] | None = None, **extra: Any
) -> tuple[Socket, dict[str, Any]]:
    comm = WebsocketCommunicator(application, "/ws/visitor/", headers=[ORIGIN])
    connected, _ = await comm.connect()
    assert connected
    sock = Socket(comm)
    await sock.send(
        {"type": "hello", "site_key": site_key, "token": token, "cursor": cursor, **extra}
    )
    return sock, await sock.expect("welcome")


async def send_message(
    sock: Socket, body: str, client_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    client_id = client_id or str(uuid.uuid4())
    await sock.send({"type": "message.send", "client_id": client_id, "body": body, **extra})
    return await sock.expect("message.ack", client_id=client_id)


def latest_welcome(sock: Socket) -> dict[str, Any]:
    """The last welcome this socket heard: after a new visitor's first write, the one with
    their token."""
    return [f for f in sock.frames if f["type"] == "welcome"][-1]


async def start_visitor(sock: Socket) -> dict[str, Any]:
    """Make the pending visitor of this socket now (``visitor.start``): their welcome."""
    await sock.send({"type": "visitor.start"})
    return await sock.expect("welcome")
