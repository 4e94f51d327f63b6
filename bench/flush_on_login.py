"""Flush on login: 10,000 offline messages in 1,000 conversations.

Measures, on real processes (uvicorn serving ASGI, a Celery worker on the Redis broker,
PostgreSQL): the time from an agent's WebSocket connect to the last offline message on that
socket, and the queries the flush makes for 1,000 vs 10,000 messages. The baseline, measured
in the same run on the same rows, is reading them with one raw SQL query.

Run with `make bench` (uses the local PostgreSQL and Redis; a database of its own).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "helpdesk_bench"
url = urllib.parse.urlparse(os.environ["DATABASE_URL"])
os.environ["DATABASE_URL"] = url._replace(path=f"/{BENCH_DB}").geturl()
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import psycopg  # noqa: E402

admin_url = url._replace(path="/postgres").geturl()
with psycopg.connect(admin_url, autocommit=True) as c:
    if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
        c.execute(f'CREATE DATABASE "{BENCH_DB}"')

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from helpdesk.models import Agent, AgentGroup, Conversation, Message, Site, Visitor  # noqa: E402
from offline import services  # noqa: E402
from offline.models import OfflineMessage  # noqa: E402
from routing import presence  # noqa: E402
from tests.processes import Server, connect, server_env  # noqa: E402

CONVERSATIONS, PER_CONVERSATION = 1000, 10
RUNS = 5


def seed(conversations: int, per: int) -> Agent:
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    group = AgentGroup.objects.create(name="Support")
    site = Site.objects.create(name="Bench", default_group=group)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bench-agent", password="bench-pw-123456")
    agent = Agent.objects.create(user=user, display_name="Bench")
    agent.groups.add(group)
    visitors = Visitor.objects.bulk_create(Visitor(site=site) for _ in range(conversations))
    now = timezone.now()
    convs = Conversation.objects.bulk_create(
        Conversation(site=site, visitor=v, last_seq=per, waiting_since=now, last_message_at=now)
        for v in visitors
    )
    messages = Message.objects.bulk_create(
        (
            Message(
                conversation=c,
                seq=i + 1,
                sender="visitor",
                body=f"offline message {i} " * 4,
                client_id=uuid.uuid4(),
            )
            for c in convs
            for i in range(per)
        ),
        batch_size=5000,
    )
    OfflineMessage.objects.bulk_create(
        (
            OfflineMessage(
                message=m,
                conversation_id=m.conversation_id,
                audience="agent",
                created_at=m.created_at,
            )
            for m in messages
        ),
        batch_size=5000,
    )
    return agent


def reset() -> None:
    """Back to 'nobody assigned, everything pending' for the next run."""
    OfflineMessage.objects.update(state="pending", delivered_at=None)
    Conversation.objects.update(assigned_agent=None, assigned_at=None)


def baseline_ms() -> float:
    sql = """
        SELECT m.id, m.conversation_id, m.seq, m.sender, m.body, m.created_at, m.client_id
        FROM offline_offlinemessage o JOIN helpdesk_message m ON m.id = o.message_id
        WHERE o.state = 'pending' AND o.audience = 'agent' ORDER BY o.created_at
    """
    with connection.cursor() as cur:
        t = time.perf_counter()
        cur.execute(sql)
        rows = cur.fetchall()
        elapsed = (time.perf_counter() - t) * 1000
    assert len(rows) == CONVERSATIONS * PER_CONVERSATION
    return elapsed


async def login_flush_ms(server: Server, cookie: str) -> tuple[float, int]:
    t = time.perf_counter()
    agent = await connect(
        f"{server.ws}/ws/agent/", Cookie=f"sessionid={cookie}", Origin=server.base
    )
    got = 0
    await agent.expect("inbox")
    while True:
        frame = await agent.expect("flush", timeout=60)
        got += len(frame["messages"])
        if frame["final"]:
            break
    elapsed = (time.perf_counter() - t) * 1000
    await agent.conn.close()
    return elapsed, got


def query_counts(agent: Agent) -> dict[int, int]:
    """Queries of one flush at 1,000 and at 10,000 messages (in-process, same code)."""
    counts = {}
    presence.store().connect("agent", str(agent.id), "bench-counter")
    for n_conv in (100, CONVERSATIONS):
        reset()
        keep = list(
            Conversation.objects.order_by("created_at").values_list("pk", flat=True)[:n_conv]
        )
        OfflineMessage.objects.exclude(conversation__in=keep).update(state="delivered")
        with CaptureQueriesContext(connection) as q:
            result = services.offline_flush_for_agent(agent_id=agent.id)
        assert result.delivered == n_conv * PER_CONVERSATION
        counts[n_conv * PER_CONVERSATION] = len(q)
    presence.store().disconnect("agent", str(agent.id), "bench-counter")
    return counts


def main() -> None:
    agent = seed(CONVERSATIONS, PER_CONVERSATION)
    client = Client()
    client.force_login(agent.user)
    cookie = client.cookies["sessionid"].value
    connection.close()
    logs = ROOT / "bench" / "results"
    logs.mkdir(parents=True, exist_ok=True)
    env = server_env(DB_CONN_MAX_AGE="60")
    server = Server(env, logs / "uvicorn.log").start()
    worker = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "helpdesk",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=(logs / "worker.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        flush, base = [], []
        for _ in range(RUNS + 1):  # the first run warms caches and the worker up
            reset()
            base.append(baseline_ms())
            ms, got = asyncio.run(login_flush_ms(server, cookie))
            assert got == CONVERSATIONS * PER_CONVERSATION, got
            flush.append(ms)
        flush, base = flush[1:], base[1:]
        counts = query_counts(agent)
    finally:
        server.stop()
        worker.terminate()
        worker.wait(10)
    p50, b50 = statistics.median(flush), statistics.median(base)
    result = {
        "name": "flush_on_login",
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": round(
                os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
            ),
            "python": platform.python_version(),
        },
        "messages": CONVERSATIONS * PER_CONVERSATION,
        "conversations": CONVERSATIONS,
        "runs": RUNS,
        "connect_to_last_message_ms": {"median": round(p50, 1), "max": round(max(flush), 1)},
        "baseline_raw_sql_read_ms": {"median": round(b50, 1)},
        "ratio_to_baseline": round(p50 / b50, 1),
        "queries_by_messages": counts,
        "target": "< 1000 ms; queries per batch constant",
    }
    (logs / "latest.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print()
    print("| figure | value | baseline (same run) | ratio |")
    print("|---|---|---|---|")
    print(
        f"| flush_on_login, connect → last of {CONVERSATIONS * PER_CONVERSATION} messages (median of {RUNS}) | {p50:.0f} ms | raw SQL read {b50:.0f} ms | {p50 / b50:.1f}× |"
    )
    print(f"| queries at 1,000 / 10,000 messages | {counts[1000]} / {counts[10000]} | 1 | — |")


if __name__ == "__main__":
    main()
