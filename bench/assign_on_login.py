"""Assign on login: 1,000 waiting conversations, 10 agents connecting at the same instant.

Real processes: uvicorn, two Celery worker processes (prefork, 5 each: ten flushes can run
at once) on the Redis broker, PostgreSQL. Each agent (capacity 100) opens a WebSocket at the
same moment; the clock stops when the last agent's final flush frame arrives. Checked every
run: every conversation assigned exactly once (each message delivered to one agent only),
nobody above capacity. The queries of one agent's assignment are counted at a backlog of 100
and of 1,000 (they must not grow per conversation).

The baseline, measured in the same run between the timed runs: the same ten logins with
nothing waiting (connect, inbox, the flush task finding nothing, its empty final frame), so
the ratio is what taking and pushing the 1,000 conversations adds to a login.

Run with `make bench`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

from common import (
    agents,
    fresh_database,
    offline_backlog,
    record,
    reset_backlog,
    session_cookie,
    stack,
    vacuum_backlog,
)
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk.models import Agent, Conversation
from offline.models import OfflineMessage
from routing import presence, selectors, services
from tests.processes import Client, Server, connect

WAITING, AGENTS, CAPACITY, RUNS = 1000, 10, 100, 5


async def everyone_logs_in(
    server: Server, cookies: list[str]
) -> tuple[float, dict[int, list[str]]]:
    async def one(cookie: str) -> tuple[Client, int, list[str]]:
        sock = await connect(
            f"{server.ws}/ws/agent/", Cookie=f"sessionid={cookie}", Origin=server.base
        )
        inbox = await sock.expect("inbox")
        got: list[str] = []
        while True:
            frame = await sock.expect("flush", timeout=60)
            got += [m["conversation_id"] for m in frame["messages"]]
            if frame["final"]:
                break
        return sock, inbox["agent"]["id"], got

    start = time.perf_counter()
    results = await asyncio.gather(*(one(c) for c in cookies))
    elapsed = (time.perf_counter() - start) * 1000
    # Sockets close once everyone has their work: an early agent's logout (its session's end,
    # the presence broadcast to visitors) is not part of the others' logins.
    for sock, _, _ in results:
        await sock.conn.close()
    return elapsed, {agent: got for _, agent, got in results}


def check(received: dict[int, list[str]]) -> None:
    everything = [c for convs in received.values() for c in convs]
    assert len(everything) == len(set(everything)) == WAITING, "a conversation reached two agents"
    assert Conversation.objects.filter(assigned_agent__isnull=True).count() == 0
    loads = selectors.open_loads(received)
    assert max(loads.values()) <= CAPACITY and sum(loads.values()) == WAITING
    for agent_id, convs in received.items():  # each agent got exactly what is assigned to them
        assert set(convs) == {
            str(c)
            for c in Conversation.objects.filter(assigned_agent=agent_id).values_list(
                "pk", flat=True
            )
        }


def nothing_waiting() -> None:
    """The baseline's state: every conversation resolved, nobody's, nothing pending."""
    OfflineMessage.objects.update(state="delivered")
    Conversation.objects.update(
        assigned_agent=None, assigned_at=None, status=Conversation.Status.RESOLVED
    )
    vacuum_backlog()


def query_counts(agent: Agent) -> dict[int, int]:
    counts = {}
    presence.store().connect("agent", str(agent.id), f"bench-{uuid.uuid4()}")
    for room in (100, 1000):
        reset_backlog()
        Agent.objects.filter(pk=agent.pk).update(capacity=room)
        with CaptureQueriesContext(connection) as q:
            taken = services.agent_take_waiting(agent_id=agent.id)
        assert len(taken) == room
        counts[room] = len(q)
    presence.store().clear()
    return counts


def main() -> None:
    group, site = fresh_database()
    team = agents(group, AGENTS, CAPACITY)
    offline_backlog(group, site, WAITING, per=1)
    cookies = [session_cookie(a) for a in team]
    connection.close()
    times, base = [], []
    with stack(workers=2, concurrency=5) as server:
        for _ in range(RUNS + 1):  # the first run warms up
            nothing_waiting()
            connection.close()
            ms, received = asyncio.run(everyone_logs_in(server, cookies))
            assert not any(received.values())
            base.append(ms)
            reset_backlog()
            connection.close()
            ms, received = asyncio.run(everyone_logs_in(server, cookies))
            check(received)
            times.append(ms)
    times, base = times[1:], base[1:]
    counts = query_counts(team[0])
    p50, b50 = statistics.median(times), statistics.median(base)
    record(
        "assign_on_login",
        {
            "waiting": WAITING,
            "agents": AGENTS,
            "capacity": CAPACITY,
            "runs": RUNS,
            "all_connected_to_all_assigned_and_pushed_ms": {
                "median": round(p50, 1),
                "max": round(max(times), 1),
            },
            "baseline_logins_with_nothing_waiting_ms": {"median": round(b50, 1)},
            "ratio_to_baseline": round(p50 / b50, 1),
            "each_assigned_exactly_once": True,
            "assignment_queries_by_backlog": counts,
            "target": "< 300 ms; each exactly once; queries not growing per conversation",
        },
    )
    print("| figure | value | baseline (same run) | ratio | target |")
    print("|---|---|---|---|---|")
    print(
        f"| assign_on_login: {AGENTS} agents connect at once, {WAITING} waiting → all assigned and pushed (median of {RUNS}) | {p50:.0f} ms (max {max(times):.0f}) | the same logins, nothing waiting: {b50:.0f} ms | {p50 / b50:.1f}× | < 300 ms |"
    )
    print(
        f"| every conversation assigned exactly once, nobody above capacity | checked in all {RUNS + 1} runs | — | — | — |"
    )
    print(
        f"| queries of one agent's assignment at 100 / 1,000 conversations | {counts[100]} / {counts[1000]} | — | — | flat |"
    )


if __name__ == "__main__":
    main()
