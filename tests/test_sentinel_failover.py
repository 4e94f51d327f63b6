"""Redis high availability through Sentinel: the master is killed in the middle of a burst of
visitor messages, with Alice online, and the deployment (a real uvicorn and a real Celery
worker, configured with REDIS_SENTINELS for the channel layer, presence, rate limits and the
broker) carries on with the promoted replica without a restart.

Counted: every message is acknowledged (the widget resends what was not, same client IDs)
and stored once; Alice gets each one, live or by the cursor resume her inbox makes, and no
live frame twice; presence is right again within its TTL, so a message after the failover
goes to her live and not to the offline store; tasks queued before the failover (and
replicated) and after it run once each, on a worker started later and on the worker that
lived through it.

People: three visitors write at once; Alice answers them.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import websockets
from celery import Celery
from channels.db import database_sync_to_async
from django.db import connection

from helpdesk import redis_ha
from helpdesk.models import Message
from offline.models import OfflineMessage
from routing.presence import RedisPresence
from tests.processes import Server, celery_worker, database_url_for, server_env
from tests.sentinel import MASTER_NAME, Topology
from tests.ws import session_cookie

pytestmark = [pytest.mark.processes, pytest.mark.timeout(300)]

VISITORS = 3
PER_VISITOR = 40
KILL_AFTER_ACKS = 30
TTL = 6  # PRESENCE_TTL_SECONDS of this deployment (5 at least)
PING_EVERY = 2
PROBES = 15
URL = "redis://mymaster/0"  # the host is not used: the sentinels name the master


class Widget:
    """A visitor's client as the widget is: an outbox resent (same client IDs) after every
    reconnect, the token kept, a ping every few seconds."""

    def __init__(self, server: Server, site_key: str, on_ack: Any) -> None:
        self.url, self.site_key, self.on_ack = f"{server.ws}/ws/visitor/", site_key, on_ack
        self.token: str | None = None
        self.outbox: dict[str, str] = {}
        self.acked: dict[str, dict[str, Any]] = {}  # client_id -> message
        self.reconnects = 0

    async def run(self, bodies: list[str], seconds: float) -> None:
        todo = list(bodies)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (todo or self.outbox) and loop.time() < deadline:
            try:
                async with websockets.connect(self.url, open_timeout=5) as ws:
                    await self._session(ws, todo, deadline)
            except (websockets.ConnectionClosed, OSError, TimeoutError):
                self.reconnects += 1
                await asyncio.sleep(0.3)  # the widget's back-off before reconnecting

    async def _session(self, ws: Any, todo: list[str], deadline: float) -> None:
        loop = asyncio.get_running_loop()
        await ws.send(json.dumps({"type": "hello", "site_key": self.site_key, "token": self.token}))
        while (frame := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] != "welcome":
            pass
        self.token = frame["token"] or frame.get("pending_token")
        for client_id, body in list(self.outbox.items()):
            await self._send(ws, client_id, body)
        last_ping = loop.time()
        while (todo or self.outbox) and loop.time() < deadline:
            if todo:
                client_id = str(uuid.uuid4())
                self.outbox[client_id] = todo.pop(0)
                await self._send(ws, client_id, self.outbox[client_id])
            if loop.time() - last_ping > PING_EVERY:
                await ws.send(json.dumps({"type": "ping"}))
                last_ping = loop.time()
            try:
                async with asyncio.timeout(0.05 if todo else 1):
                    while True:
                        self._frame(json.loads(await ws.recv()))
            except TimeoutError:
                pass

    async def _send(self, ws: Any, client_id: str, body: str) -> None:
        await ws.send(json.dumps({"type": "message.send", "client_id": client_id, "body": body}))

    def _frame(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "message.ack" and frame["client_id"] in self.outbox:
            del self.outbox[frame["client_id"]]
            self.acked[frame["client_id"]] = frame["message"]
            self.on_ack()


class Inbox:
    """Alice's inbox: every visitor message it was given, live, by the flush or by the
    resume (``conversation.open`` after the last seq it holds without a gap)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.live: list[str] = []
        self.flushed: list[str] = []
        self.resumed: list[str] = []
        self.seqs: dict[str, set[int]] = {}
        self.histories: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read())
        self.pinger = asyncio.ensure_future(self._ping())

    def _keep(self, m: dict[str, Any], into: list[str]) -> None:
        self.seqs.setdefault(m["conversation_id"], set()).add(m["seq"])
        if m["sender"] == "visitor":
            into.append(m["id"])

    async def _read(self) -> None:
        try:
            async for raw in self.conn:
                frame = json.loads(raw)
                if frame["type"] == "message":
                    self._keep(frame["message"], self.live)
                elif frame["type"] == "flush":
                    for m in frame["messages"]:
                        self._keep(m, self.flushed)
                elif frame["type"] == "history":
                    for m in frame["messages"]:
                        self._keep(m, self.resumed)
                    self.histories.put_nowait(frame)
        except websockets.ConnectionClosed:
            return

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(PING_EVERY)
            await self.conn.send(json.dumps({"type": "ping"}))

    def held_top(self, conversation_id: str) -> int:
        seqs, top = self.seqs.get(conversation_id, set()), 0
        while top + 1 in seqs:
            top += 1
        return top

    async def resume(self, conversation_ids: set[str]) -> None:
        for conversation_id in conversation_ids:
            after = self.held_top(conversation_id)
            await self.conn.send(
                json.dumps(
                    {
                        "type": "conversation.open",
                        "conversation_id": conversation_id,
                        "after_seq": after,
                    }
                )
            )
            history = await asyncio.wait_for(self.histories.get(), 20)
            assert history["conversation"]["id"] == conversation_id

    @property
    def received(self) -> set[str]:
        return set(self.live) | set(self.flushed) | set(self.resumed)


def task_runs(*logs: Path) -> Counter[str]:
    """Task IDs that finished, from the workers' JSON log lines (one per run)."""
    runs: Counter[str] = Counter()
    for log in logs:
        if not log.exists():
            continue
        for raw in log.read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                line = json.loads(raw)
                if line.get("logger") == "celery.app.trace" and "succeeded" in line["message"]:
                    runs[line["task_id"]] += 1
    return runs


async def until(what: str, check: Any, seconds: float, show: Any = None) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)  # other processes are working; bounded by the deadline
    raise AssertionError(f"not within {seconds} s: {what}; {show() if show else ''}")


async def test_the_redis_master_killed_mid_burst_loses_nothing(
    acme, alice, tmp_path, transactional_db
):
    topology = Topology(tmp_path).start()
    queue, probe_queue = f"sentinel-{uuid.uuid4().hex}", f"probes-{uuid.uuid4().hex}"
    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        REDIS_URL=URL,
        REDIS_SENTINELS=topology.sentinels_env,
        REDIS_SENTINEL_MASTER=MASTER_NAME,
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_QUEUE=queue,
        DB_CONN_MAX_AGE="0",
        PRESENCE_TTL_SECONDS=str(TTL),
        RATE_VISITOR_MESSAGES="1000/60",  # counted in Redis through Sentinel too
        RATE_VISITOR_SESSIONS="0/3600",
        LOG_FORMAT="json",
    )
    server = Server(env, tmp_path / "server.log")
    worker_log, late_worker_log = tmp_path / "worker.log", tmp_path / "late-worker.log"
    worker = late_worker = None
    broker, options = redis_ha.celery_broker(URL, sentinels=topology.sentinels, master=MASTER_NAME)
    probe = Celery("probe", broker=broker, broker_transport_options=options)
    presence = RedisPresence(
        URL, env["CHANNELS_PREFIX"], TTL, sentinels=topology.sentinels, master=MASTER_NAME
    )
    inbox = None
    try:
        server.start()
        worker = celery_worker(env, worker_log, "--concurrency=1", f"--hostname=a-{queue}@%h")
        cookie = await database_sync_to_async(session_cookie)(alice.user)
        conn = await websockets.connect(
            f"{server.ws}/ws/agent/",
            additional_headers={"Cookie": f"sessionid={cookie}", "Origin": server.base},
        )
        inbox = Inbox(conn)
        await until(
            "Alice online", lambda: asyncio.to_thread(presence.online, "agent", [str(alice.id)]), 10
        )

        # Tasks queued before the failover, for a worker that starts after it; replicated.
        before = [
            probe.send_task(
                "notifications.tasks.deliver", args=[f"probe:{i}", "email"], queue=probe_queue
            ).id
            for i in range(PROBES)
        ]
        await until(
            "the queued tasks on the replica", lambda: asyncio.to_thread(topology.replicated), 10
        )

        # The burst; the master dies once 30 messages are acknowledged.
        acks, killed_at = [0], [None]

        def on_ack() -> None:
            acks[0] += 1
            if acks[0] == KILL_AFTER_ACKS:
                topology.kill_master()
                killed_at[0] = time.monotonic()

        widgets = [Widget(server, acme.widget_key, on_ack) for _ in range(VISITORS)]
        await asyncio.gather(
            *(
                w.run([f"visitor {n} message {i}" for i in range(PER_VISITOR)], seconds=120)
                for n, w in enumerate(widgets)
            )
        )
        assert killed_at[0] is not None, "the master must die mid-burst"
        unacked = {c: b for w in widgets for c, b in w.outbox.items()}
        assert not unacked, f"never acknowledged: {sorted(unacked.values())}"
        await asyncio.to_thread(topology.wait_for_failover)
        failover_seconds = time.monotonic() - killed_at[0]

        # Presence is right again within its TTL (Alice and the visitors keep pinging).
        await until(
            f"Alice online again within the presence TTL ({TTL} s) after the failover",
            lambda: asyncio.to_thread(presence.online, "agent", [str(alice.id)]),
            TTL + PING_EVERY + 2,
        )
        # ... so a message now reaches her live, and nothing goes to the offline store.
        after = widgets[0]
        extra = f"after the failover {uuid.uuid4().hex[:6]}"
        await after.run([extra], seconds=30)
        message = next(m for m in after.acked.values() if m["body"] == extra)
        await until(
            "the message after the failover live in Alice's inbox",
            lambda: asyncio.sleep(0, message["id"] in inbox.live),
            20,
            lambda: f"live so far: {len(inbox.live)}",
        )
        offline = await database_sync_to_async(
            OfflineMessage.objects.filter(message_id=message["id"], audience="agent").exists
        )()
        assert not offline, "presence still wrong after the failover: stored as offline"

        # Every acknowledged message stored once.
        acked = {c: m for w in widgets for c, m in w.acked.items()}
        assert len(acked) == VISITORS * PER_VISITOR + 1
        stored = await database_sync_to_async(
            lambda: Counter(
                str(c)
                for c in Message.objects.filter(sender="visitor").values_list(
                    "client_id", flat=True
                )
            )
        )()
        assert set(stored) == set(acked), {
            "acked, not stored": set(acked) - set(stored),
            "stored, not acked": set(stored) - set(acked),
        }
        assert set(stored.values()) == {1}, [c for c, n in stored.items() if n > 1]

        # Alice gets each one: live, or by the resume her inbox makes from its cursor.
        conversations = {m["conversation_id"] for m in acked.values()}
        await inbox.resume(conversations)
        ids = {m["id"] for m in acked.values()}
        missing = ids - inbox.received
        assert not missing, (
            f"{len(missing)} of {len(ids)} messages never reached Alice: "
            f"{sorted(m['body'] for m in acked.values() if m['id'] in missing)}"
        )
        twice = [i for i, n in Counter(inbox.live).items() if n > 1]
        assert not twice, f"live frames sent twice: {twice}"

        # Tasks: those queued before the failover run once on a worker started after it;
        # those queued after it run once on the worker that lived through it.
        after_ids = [
            probe.send_task(
                "notifications.tasks.deliver", args=[f"probe:after:{i}", "email"], queue=queue
            ).id
            for i in range(PROBES)
        ]
        late_worker = celery_worker(
            env, late_worker_log, "--concurrency=1", "-Q", probe_queue, f"--hostname=b-{queue}@%h"
        )
        wanted = set(before) | set(after_ids)
        await until(
            "every probe task run",
            lambda: asyncio.sleep(0, wanted <= set(task_runs(worker_log, late_worker_log))),
            60,
            lambda: f"not run: {sorted(wanted - set(task_runs(worker_log, late_worker_log)))}",
        )
        runs = task_runs(worker_log, late_worker_log)
        assert all(runs[t] == 1 for t in wanted), {t: runs[t] for t in wanted if runs[t] != 1}
        assert set(before) <= set(task_runs(late_worker_log))
        assert set(after_ids) <= set(task_runs(worker_log))
        pending = await database_sync_to_async(
            OfflineMessage.objects.filter(audience="agent", state="pending").count
        )()
        live, flushed = set(inbox.live), set(inbox.flushed) - set(inbox.live)
        print(
            f"failover: master killed after {KILL_AFTER_ACKS} acks, replica promoted "
            f"{failover_seconds:.1f} s later; visitors reconnected "
            f"{sum(w.reconnects for w in widgets)} times; of {len(ids)} messages Alice got "
            f"{len(live)} live, {len(flushed)} by a flush, "
            f"{len(ids - live - flushed)} only by the resume; {pending} offline rows pending"
        )
    finally:
        if inbox is not None:
            inbox.pinger.cancel()
            await inbox.conn.close()
        server.stop()
        for w in (worker, late_worker):
            if w is not None:
                w.terminate()
                w.wait(15)
        topology.stop()


def test_rate_limits_and_presence_find_the_new_master_by_themselves(settings, tmp_path):
    """In this process, without a restart: the same cache and presence clients keep working
    when the master they were using dies and the replica takes over."""
    from django.core.cache import cache

    from helpdesk import ratelimit

    topology = Topology(tmp_path).start()
    try:
        settings.CACHES = {
            "default": {
                "BACKEND": "helpdesk.redis_ha.SentinelRedisCache",
                "LOCATION": URL,
                "KEY_PREFIX": f"sentinel-{uuid.uuid4().hex}",
                "OPTIONS": {
                    "socket_timeout": 2,
                    "socket_connect_timeout": 2,
                    "sentinels": topology.sentinels,
                    "master_name": MASTER_NAME,
                },
            }
        }
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "visitor_messages": "3/60"}
        presence = RedisPresence(
            URL,
            f"sentinel-{uuid.uuid4().hex}",
            60,
            sentinels=topology.sentinels,
            master=MASTER_NAME,
        )

        def three_then_refused(key: str) -> None:
            for _ in range(3):
                ratelimit.hit("visitor_messages", key, what="messages")
            with pytest.raises(ratelimit.RateLimited):
                ratelimit.hit("visitor_messages", key, what="messages")

        three_then_refused("flo")
        assert presence.connect("agent", "1", "tab-a") is True
        client = cache._cache.get_client(write=True)
        assert client.connection_pool.connection_kwargs["db"] == 0
        assert redis_port(client) == topology.master_port

        topology.kill_master()
        topology.wait_for_failover()
        # The first calls after the failover find the new master themselves.
        deadline = time.monotonic() + 10
        while True:
            try:
                three_then_refused(f"flo-{uuid.uuid4().hex}")
                break
            except pytest.fail.Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)  # a hit that failed open on the dead master; bounded
        assert redis_port(client) == topology.replica_port
        # Presence was replicated: the socket is still there, on the new master.
        assert presence.online("agent", ["1"]) == {"1"}
        assert presence.connect("agent", "1", "tab-b") is False
    finally:
        topology.stop()


def redis_port(client: Any) -> int:
    return int(client.execute_command("CONFIG", "GET", "port")[1])
