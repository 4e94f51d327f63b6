"""Flush on login: 10,000 offline messages in 1,000 conversations.

Measures, on real processes (uvicorn serving ASGI, a Celery worker on the Redis broker,
PostgreSQL): the time from an agent's WebSocket connect to the last offline message on that
socket, and the queries the flush makes for 1,000 vs 10,000 messages. The baseline, measured
in the same run on the same rows, is reading them with one raw SQL query.

Run with `make bench` (uses the local PostgreSQL and Redis; a database of its own).
"""

from __future__ import annotations

import asyncio
import statistics
import time

from common import (
    agents,
    fresh_database,
    offline_backlog,
    record,
    reset_backlog,
    session_cookie,
    stack,
)
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk.models import Agent, Conversation
from offline import tasks
from offline.models import OfflineMessage
from routing import presence
from tests.processes import Server, connect

CONVERSATIONS, PER_CONVERSATION = 1000, 10
RUNS = 5


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
        reset_backlog()
        keep = list(
            Conversation.objects.order_by("created_at").values_list("pk", flat=True)[:n_conv]
        )
        OfflineMessage.objects.exclude(conversation__in=keep).update(state="delivered")
        with CaptureQueriesContext(connection) as q:
            result = tasks.take_waiting_and_flush(agent_id=agent.id)
        assert result.delivered == n_conv * PER_CONVERSATION
        counts[n_conv * PER_CONVERSATION] = len(q)
    presence.store().disconnect("agent", str(agent.id), "bench-counter")
    return counts


def main() -> None:
    group, site = fresh_database()
    [agent] = agents(group, 1, capacity=10_000)
    offline_backlog(group, site, CONVERSATIONS, PER_CONVERSATION)
    cookie = session_cookie(agent)
    connection.close()
    with stack() as server:
        flush, base = [], []
        for _ in range(RUNS + 1):  # the first run warms caches and the worker up
            reset_backlog()
            base.append(baseline_ms())
            ms, got = asyncio.run(login_flush_ms(server, cookie))
            assert got == CONVERSATIONS * PER_CONVERSATION, got
            flush.append(ms)
        flush, base = flush[1:], base[1:]
    counts = query_counts(agent)
    p50, b50 = statistics.median(flush), statistics.median(base)
    result = {
        "messages": CONVERSATIONS * PER_CONVERSATION,
        "conversations": CONVERSATIONS,
        "runs": RUNS,
        "connect_to_last_message_ms": {"median": round(p50, 1), "max": round(max(flush), 1)},
        "baseline_raw_sql_read_ms": {"median": round(b50, 1)},
        "ratio_to_baseline": round(p50 / b50, 1),
        "queries_by_messages": counts,
        "target": "< 500 ms; queries not growing per message",
    }
    record("flush_on_login", result)
    print("| figure | value | baseline (same run) | ratio |")
    print("|---|---|---|---|")
    print(
        f"| flush_on_login, connect → last of {CONVERSATIONS * PER_CONVERSATION} messages (median of {RUNS}) | {p50:.0f} ms | raw SQL read {b50:.0f} ms | {p50 / b50:.1f}× |"
    )
    print(
        f"| flush queries at 1,000 / 10,000 messages | {counts[1000]} / {counts[10000]} | 1 | — |"
    )


if __name__ == "__main__":
    main()
