"""Metrics across processes, as production runs them: two web processes and a Celery worker
write to one PROMETHEUS_MULTIPROC_DIR, and /metrics on either web process adds them all up.
A web process killed with -9 takes its sockets out of the count at the next scrape.

People: visitors write on both servers while nobody is online; Alice signs in on server one
and her flush runs on the worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import urllib.request
import uuid

import pytest
import websockets
from channels.db import database_sync_to_async
from django.db import connection

from tests.helpdesk.test_metrics import value
from tests.processes import Server, celery_worker, database_url_for, server_env
from tests.ws import session_cookie

pytestmark = pytest.mark.processes

TOKEN = "processes-metrics-token"


def scrape(server: Server) -> str:
    request = urllib.request.Request(
        f"{server.base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.read().decode()


async def until(server: Server, what: str, check, seconds: float = 60) -> str:
    """Scrape until ``check(text)`` holds, bounded; on failure say what was seen."""
    text = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        text = await asyncio.to_thread(scrape, server)
        if check(text):
            return text
        await asyncio.sleep(0.2)  # the other processes are working; bounded by the deadline
    helpdesk = "\n".join(line for line in text.splitlines() if line.startswith("helpdesk_"))
    raise AssertionError(f"not within {seconds} s: {what}; last scrape:\n{helpdesk}")


async def visitor(server: Server, site_key: str, n: int) -> websockets.ClientConnection:
    ws = await websockets.connect(f"{server.ws}/ws/visitor/")
    await ws.send(json.dumps({"type": "hello", "site_key": site_key}))
    while json.loads(await ws.recv())["type"] != "welcome":
        pass
    for i in range(n):
        client_id = str(uuid.uuid4())
        await ws.send(json.dumps({"type": "message.send", "client_id": client_id, "body": f"m{i}"}))
        while (f := json.loads(await ws.recv()))["type"] != "message.ack":
            pass
        assert f["client_id"] == client_id
    return ws


async def test_two_servers_and_a_worker_are_counted_together(
    acme, alice, tmp_path, transactional_db
):
    queue = f"metrics-{uuid.uuid4().hex}"
    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_QUEUE=queue,
        DB_CONN_MAX_AGE="0",
        RATE_VISITOR_SESSIONS="0/3600",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        METRICS_TOKEN=TOKEN,
    )
    one, two = Server(env, tmp_path / "one.log"), Server(env, tmp_path / "two.log")
    worker = None
    sockets = []
    try:
        one.start()
        two.start()
        worker = celery_worker(
            env, tmp_path / "worker.log", "--concurrency=1", f"--hostname=m-{queue}@%h"
        )
        baseline = await asyncio.to_thread(scrape, one)
        assert (
            value(baseline, "helpdesk_messages_stored_total", channel="web", sender="visitor") == 0
        )
        # Nobody online: three visitors on each server, two messages each.
        sockets += [await visitor(one, acme.widget_key, 2) for _ in range(3)]
        sockets += [await visitor(two, acme.widget_key, 2) for _ in range(3)]
        text = await asyncio.to_thread(scrape, two)  # either server sees all processes
        assert value(text, "helpdesk_messages_stored_total", channel="web", sender="visitor") == 12
        assert value(text, "helpdesk_hellos_total") == 6
        assert value(text, "helpdesk_ack_seconds_count", side="visitor") == 12
        assert value(text, "helpdesk_sockets_open", kind="visitor") == 6
        assert value(text, "helpdesk_offline_pending", audience="agent") == 12

        # Alice signs in on server one; her flush runs on the worker, which counts it.
        cookie = await database_sync_to_async(session_cookie)(alice.user)
        agent = await websockets.connect(
            f"{one.ws}/ws/agent/",
            additional_headers={"Cookie": f"sessionid={cookie}", "Origin": one.base},
        )
        sockets.append(agent)
        await until(
            one,
            "the worker's flush counted: 12 messages, one task, no backlog",
            lambda t: (
                value(t, "helpdesk_messages_delivered_total", path="flush", audience="agent") == 12
                and value(
                    t,
                    "helpdesk_celery_tasks_total",
                    task="offline.tasks.flush_agent",
                    state="SUCCESS",
                )
                >= 1
                and value(t, "helpdesk_flush_seconds_count") >= 1
                and value(t, "helpdesk_offline_pending", audience="agent") == 0
                and f'helpdesk_celery_queue_depth{{queue="{queue}"}} 0.0' in t
            ),
        )

        # Server two dies with its three visitor sockets open: they leave the count.
        os.kill(two.proc.pid, signal.SIGKILL)
        two.proc.wait(10)
        await until(
            one,
            "server two's sockets gone from the count (three visitors left, one agent)",
            lambda t: (
                value(t, "helpdesk_sockets_open", kind="visitor") == 3
                and value(t, "helpdesk_sockets_open", kind="agent") == 1
            ),
        )
        # Its counts stay: what it stored was stored.
        text = await asyncio.to_thread(scrape, one)
        assert value(text, "helpdesk_messages_stored_total", channel="web", sender="visitor") == 12
    finally:
        for ws in sockets:
            await ws.close()
        one.stop()
        two.stop()
        if worker is not None:
            worker.terminate()
            worker.wait(15)
