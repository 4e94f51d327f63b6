"""Faults with real processes: the web server killed mid-burst (kill -9), and PostgreSQL
unreachable for a while. Nothing the server acknowledged is lost; what it did not
acknowledge is resent by the client and stored once; no answer claims a message was stored
when it was not.

People: Vic writes a burst of messages; Alice reads them when she comes online.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from contextlib import suppress

import pytest
import redis
import websockets
from channels.db import database_sync_to_async
from django.db import connection

from helpdesk.models import Message
from tests.processes import Server, database_url_for, free_port, server_env
from tests.ws import session_cookie

pytestmark = pytest.mark.processes


class Visitor:
    """A client as the widget is: an outbox of unacknowledged messages, resent (same client
    IDs) after every reconnect, and the token kept."""

    def __init__(self, base_ws: str, site_key: str) -> None:
        self.url, self.site_key = f"{base_ws}/ws/visitor/", site_key
        self.token: str | None = None
        self.outbox: dict[str, str] = {}
        self.acked: dict[str, str] = {}  # client_id -> message id

    async def session(self, texts: list[str], *, kill=None) -> None:
        """Connect, resend the outbox, send ``texts``; read acks until the socket drops or
        everything is acknowledged. ``kill`` is called once, mid-burst."""
        for text in texts:
            self.outbox[str(uuid.uuid4())] = text
        try:
            async with websockets.connect(self.url) as ws:
                await ws.send(
                    json.dumps({"type": "hello", "site_key": self.site_key, "token": self.token})
                )
                for n, (client_id, body) in enumerate(list(self.outbox.items()), start=1):
                    await ws.send(
                        json.dumps({"type": "message.send", "client_id": client_id, "body": body})
                    )
                    if kill and len(self.acked) < 5:
                        # The first five wait for their acks, however busy the machine is,
                        # so the kill comes with five stored and more in flight.
                        while client_id in self.outbox:
                            await self._read(ws, timeout=10)
                    elif kill and n >= 10:
                        kill()
                        kill = None
                    with suppress(TimeoutError):
                        await self._read(ws, timeout=0.01)
                while self.outbox:
                    await self._read(ws, timeout=10)
        except (websockets.ConnectionClosed, OSError):
            pass  # the server went away: what is not acknowledged stays in the outbox

    async def _read(self, ws, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            frame = json.loads(await ws.recv())
        if frame["type"] == "welcome":
            self.token = frame["token"] or frame.get("pending_token")
        elif frame["type"] == "message.ack" and frame["client_id"] in self.outbox:
            del self.outbox[frame["client_id"]]
            self.acked[frame["client_id"]] = frame["message"]["id"]


def stored() -> dict[str, int]:
    counts: dict[str, int] = {}
    for client_id in Message.objects.filter(sender="visitor").values_list("client_id", flat=True):
        counts[str(client_id)] = counts.get(str(client_id), 0) + 1
    return counts


async def test_the_web_server_killed_mid_burst_loses_nothing_acknowledged(acme, alice, app_server):
    vic = Visitor(app_server.ws, acme.widget_key)
    burst = [f"message {i}" for i in range(40)]

    def kill() -> None:
        os.kill(app_server.proc.pid, signal.SIGKILL)

    await vic.session(burst, kill=kill)
    app_server.proc.wait(10)
    acked_before = dict(vic.acked)
    assert 5 <= len(acked_before) < 40, "the kill must land mid-burst"
    in_db = await database_sync_to_async(stored)()
    assert all(in_db.get(c) == 1 for c in acked_before)  # every ack is a stored message

    app_server.start()  # same port, same database
    await vic.session([])  # reconnect: the outbox goes again, same client IDs
    assert vic.outbox == {} and len(vic.acked) == 40
    in_db = await database_sync_to_async(stored)()
    assert set(in_db) == set(vic.acked) and set(in_db.values()) == {1}  # each exactly once

    # Alice comes online and gets every message, once.
    cookie = await database_sync_to_async(session_cookie)(alice.user)
    async with websockets.connect(
        f"{app_server.ws}/ws/agent/",
        additional_headers={"Cookie": f"sessionid={cookie}", "Origin": app_server.base},
    ) as ws:
        seen: list[str] = []
        async with asyncio.timeout(20):
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "flush":
                    seen += [m["body"] for m in frame["messages"] if m["sender"] == "visitor"]
                    if frame["final"]:
                        break
        assert sorted(seen) == sorted(burst)


class Proxy:
    """A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones
    refused) and mended, standing in for a database that becomes unreachable."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        for s in (a, b):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open.clear()
        for a, b in self.pairs:
            for s in (a, b):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
        self.pairs.clear()

    def mend(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


async def test_while_the_database_is_unreachable_nothing_is_reported_sent(
    acme, tmp_path, transactional_db
):
    db = connection.settings_dict
    proxy = Proxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    env = server_env(
        DATABASE_URL=f"postgres://{db['USER'] or 'postgres'}@127.0.0.1:{proxy.port}/{db['NAME']}",
        CELERY_TASK_ALWAYS_EAGER="true",
        DB_CONN_MAX_AGE="0",
    )
    srv = Server(env, tmp_path / "server.log").start()
    try:
        vic = Visitor(srv.ws, acme.widget_key)
        await vic.session(["before the outage"])
        assert len(vic.acked) == 1
        proxy.cut()
        await vic.session(["during the outage"])  # the server fails: no ack, socket closed
        assert list(vic.outbox.values()) == ["during the outage"] and len(vic.acked) == 1
        proxy.mend()
        await vic.session([])  # back: the widget's resend goes through, once
        assert vic.outbox == {} and len(vic.acked) == 2
        in_db = await database_sync_to_async(stored)()
        assert set(in_db) == set(vic.acked) and set(in_db.values()) == {1}
    finally:
        srv.stop()
        proxy.close()


class OwnRedis:
    """A Redis of this test's own (the shared one must not be restarted under others)."""

    def __init__(self, tmp_path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OwnRedis:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.dir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until it answers
            with suppress(redis.ConnectionError):
                client.ping()
                return self
            time.sleep(0.05)  # not listening yet; bounded by the deadline
        raise TimeoutError("redis-server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)


async def test_redis_restarted_mid_conversation_loses_nothing_and_live_delivery_comes_back(
    acme, alice, tmp_path, transactional_db
):
    own = OwnRedis(tmp_path).start()
    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        REDIS_URL=f"redis://127.0.0.1:{own.port}/0",
        CELERY_TASK_ALWAYS_EAGER="true",
        DB_CONN_MAX_AGE="0",
    )
    srv = Server(env, tmp_path / "server.log").start()
    cookie = await database_sync_to_async(session_cookie)(alice.user)
    try:
        async with (
            websockets.connect(
                f"{srv.ws}/ws/agent/",
                additional_headers={"Cookie": f"sessionid={cookie}", "Origin": srv.base},
            ) as agent,
            websockets.connect(f"{srv.ws}/ws/visitor/") as visitor,
        ):

            async def frame(ws, type_, timeout=10):
                async with asyncio.timeout(timeout):
                    while True:
                        f = json.loads(await ws.recv())
                        assert f.get("code") != "internal_error", f
                        if f["type"] == type_:
                            return f

            async def say(body):
                client_id = str(uuid.uuid4())
                await visitor.send(
                    json.dumps({"type": "message.send", "client_id": client_id, "body": body})
                )
                ack = await frame(visitor, "message.ack")
                assert ack["client_id"] == client_id  # stored, whatever Redis is doing
                return ack["message"]

            await frame(agent, "inbox")
            await visitor.send(json.dumps({"type": "hello", "site_key": acme.widget_key}))
            await frame(visitor, "welcome")
            first = await say("before the restart")
            assert (await frame(agent, "message"))["message"]["id"] == first["id"]

            own.kill()
            during = await say("while Redis is down")
            own.start()  # same port, empty
            # Live delivery comes back by itself: keep talking until Alice hears one live.
            heard = None
            for i in range(40):
                sent = await say(f"after the restart {i}")
                with suppress(TimeoutError):
                    heard = await frame(agent, "message", timeout=0.5)
                    break
            assert heard is not None, "live delivery did not come back"
            assert sent["seq"] > during["seq"]

        # Nothing was lost: a fresh look at the conversation holds every message, once.
        bodies = await database_sync_to_async(
            lambda: [m.body for m in Message.objects.filter(sender="visitor").order_by("seq")]
        )()
        assert bodies[:2] == ["before the restart", "while Redis is down"]
        assert len(bodies) == len(set(bodies))
    finally:
        srv.stop()
        own.kill()
