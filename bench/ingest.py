"""`ingest`: visitor → stored → agent, at 50, 200 and 1,000 concurrent conversations.

Real processes: uvicorn (one ASGI process), a Celery worker, PostgreSQL, Redis Pub/Sub. The
load generator is this process, on the same box: one WebSocket per visitor and one per agent
(10 agents share the conversations), driven with the websockets library.

Each size is run twice against the same server:
- **product**: the visitor socket sends `message.send`; the message is stored (encrypted),
  routed and acknowledged, and the clock stops when the assigned agent's socket receives it;
- **bare** (the baseline): `/ws/bare/` (bench/bare_asgi.py), a Channels consumer that only
  group_sends each frame to the agent's group over the same channel layer and server.

And in two ways:
- **saturated** (messages/s): every conversation keeps one message in flight, sending the next
  as soon as the agent has the last; throughput is what the server sustains;
- **paced** (latency): every conversation sends one message every 2 s (a busy chat), so the
  offered load is 25, 100 and 500 messages/s; p50/p99 from send to the agent's socket.

Every message sent must arrive (checked); a timeout is counted as lost and fails the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from common import RESULTS, agents, fresh_database, record, server_cpu_s, session_cookie, stack
from django.db import connection

from tests.processes import Server

SIZES = [int(n) for n in os.environ.get("BENCH_INGEST_SIZES", "50,200,1000").split(",")]
AGENTS = 10
SECONDS = float(os.environ.get("BENCH_INGEST_SECONDS", "5"))
WARM_S = 2.0
PACE_S = 2.0
LOST_AFTER_S = 60.0


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


class Mailroom:
    """Who is waiting for which message: the agents' readers resolve them as they arrive."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[float]] = {}

    def expect(self, marker: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[marker] = future
        return future

    def arrived(self, marker: str) -> None:
        future = self.waiting.pop(marker, None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())


async def read_forever(conn: Any, on_frame: Callable[[dict[str, Any]], None] | None) -> None:
    """Read every frame (unread frames would stall the socket); hand each to ``on_frame``."""
    import websockets

    try:
        async for raw in conn:
            if on_frame is not None:
                on_frame(json.loads(raw))
    except websockets.ConnectionClosed:
        return  # closed at the end of the run


async def gather_limited(factories: list[Callable[[], Awaitable[Any]]], limit: int = 50) -> list:
    gate = asyncio.Semaphore(limit)

    async def one(factory: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await factory()

    return await asyncio.gather(*(one(f) for f in factories))


Sender = Callable[[str], Awaitable[None]]


async def saturated(senders: list[Sender], mail: Mailroom, seconds: float) -> dict[str, float]:
    """One message in flight per conversation; after WARM_S (the queue forms), what arrives
    in the next ``seconds`` is the throughput. Messages still in flight at the end must
    arrive too (checked)."""
    latencies: list[float] = []
    in_window = everything = 0
    window_start = time.perf_counter() + WARM_S
    deadline = window_start + seconds

    async def loop(i: int, send: Sender) -> None:
        nonlocal in_window, everything
        k = 0
        while time.perf_counter() < deadline:
            marker = f"s{i}.{k}"
            k += 1
            arrived = mail.expect(marker)
            start = time.perf_counter()
            await send(marker)
            at = await asyncio.wait_for(arrived, LOST_AFTER_S)
            everything += 1
            if window_start <= at <= deadline:
                latencies.append(at - start)
                in_window += 1

    await asyncio.gather(*(loop(i, s) for i, s in enumerate(senders)))
    ms = [x * 1000 for x in latencies]
    return {
        "messages": len(ms),
        "all_messages": everything,
        "messages_per_s": round(in_window / seconds, 1),
        "p50_ms": round(pct(ms, 50), 1),
        "p99_ms": round(pct(ms, 99), 1),
    }


async def paced(senders: list[Sender], mail: Mailroom, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    waits: list[asyncio.Future[None]] = []
    deadline = time.perf_counter() + seconds

    async def wait(arrived: asyncio.Future[float], start: float) -> None:
        latencies.append((await asyncio.wait_for(arrived, LOST_AFTER_S)) - start)

    async def loop(i: int, send: Sender) -> None:
        await asyncio.sleep(random.uniform(0, PACE_S))  # spread the conversations' phases
        k = 0
        while (start := time.perf_counter()) < deadline:
            marker = f"p{i}.{k}"
            k += 1
            arrived = mail.expect(marker)
            await send(marker)
            waits.append(asyncio.ensure_future(wait(arrived, start)))
            await asyncio.sleep(max(0.0, start + PACE_S - time.perf_counter()))

    await asyncio.gather(*(loop(i, s) for i, s in enumerate(senders)))
    await asyncio.gather(*waits)
    ms = [x * 1000 for x in latencies]
    return {
        "messages": len(ms),
        "offered_per_s": round(len(senders) / PACE_S, 1),
        "p50_ms": round(pct(ms, 50), 1),
        "p99_ms": round(pct(ms, 99), 1),
    }


async def product_senders(
    server: Server, site_key: str, cookies: list[str], n: int, mail: Mailroom
) -> tuple[list[Sender], list[Any], list[Any]]:
    """Agents connected, ``n`` visitors welcomed, each conversation routed to an agent."""
    import websockets

    def on_agent_frame(frame: dict[str, Any]) -> None:
        if frame.get("type") == "message" and frame["message"]["sender"] == "visitor":
            mail.arrived(frame["message"]["body"])

    async def agent(cookie: str) -> Any:
        conn = await websockets.connect(
            f"{server.ws}/ws/agent/",
            additional_headers={"Cookie": f"sessionid={cookie}", "Origin": server.base},
            compression=None,
        )
        json.loads(await conn.recv())  # inbox
        return conn

    agent_conns = [await agent(c) for c in cookies]
    readers = [asyncio.ensure_future(read_forever(c, on_agent_frame)) for c in agent_conns]

    async def visitor() -> tuple[Sender, Any]:
        conn = await websockets.connect(f"{server.ws}/ws/visitor/", compression=None)
        await conn.send(json.dumps({"type": "hello", "site_key": site_key, "channel": "web"}))
        while json.loads(await conn.recv())["type"] != "welcome":
            pass
        readers.append(asyncio.ensure_future(read_forever(conn, None)))

        async def send(marker: str) -> None:
            frame = {"type": "message.send", "client_id": str(uuid.uuid4()), "body": marker}
            await conn.send(json.dumps(frame))

        # The first message opens the conversation and routes it: not measured.
        marker = f"first-{uuid.uuid4()}"
        arrived = mail.expect(marker)
        await send(marker)
        await asyncio.wait_for(arrived, LOST_AFTER_S)
        return send, conn

    made = await gather_limited([visitor for _ in range(n)])
    return [s for s, _ in made], [*agent_conns, *(c for _, c in made)], readers


async def bare_senders(
    server: Server, n: int, mail: Mailroom
) -> tuple[list[Sender], list[Any], list[Any]]:
    import websockets

    def on_agent_frame(frame: dict[str, Any]) -> None:
        mail.arrived(frame["body"])

    agent_conns = [
        await websockets.connect(f"{server.ws}/ws/bare/?role=agent&agent={a}", compression=None)
        for a in range(AGENTS)
    ]
    readers = [asyncio.ensure_future(read_forever(c, on_agent_frame)) for c in agent_conns]

    async def visitor(i: int) -> tuple[Sender, Any]:
        conn = await websockets.connect(
            f"{server.ws}/ws/bare/?role=visitor&agent={i % AGENTS}", compression=None
        )

        async def send(marker: str) -> None:
            frame = {"type": "message.send", "client_id": str(uuid.uuid4()), "body": marker}
            await conn.send(json.dumps(frame))

        return send, conn

    made = await gather_limited([lambda i=i: visitor(i) for i in range(n)])
    return [s for s, _ in made], [*agent_conns, *(c for _, c in made)], readers


async def measure(kind: str, server: Server, n: int, **setup: Any) -> dict[str, Any]:
    mail = Mailroom()
    if kind == "product":
        senders, conns, readers = await product_senders(server, n=n, mail=mail, **setup)
    else:
        senders, conns, readers = await bare_senders(server, n, mail)
    profiler = None
    if kind == "product" and os.environ.get("BENCH_PROFILE") and server.proc is not None:
        # py-spy samples the server while it is saturated: collapsed stacks for a flame graph.
        profiler = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                *(
                    "record",
                    "--pid",
                    str(server.proc.pid),
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--subprocesses",
                ),
                *(
                    "--duration",
                    str(int(SECONDS)),
                    "--output",
                    str(RESULTS / f"ingest-{n}-{server.workers}p.stacks"),
                ),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    cpu_before, wall_before = server_cpu_s(server), time.perf_counter()
    result: dict[str, Any] = {"saturated": await saturated(senders, mail, SECONDS)}
    cpu, wall = server_cpu_s(server) - cpu_before, time.perf_counter() - wall_before
    # CPU the server processes spent per message while saturated: near 1,000 ms per second
    # of wall time means the process (one core, one GIL) is the limit.
    result["saturated"]["server_cpu_ms_per_message"] = round(
        1000 * cpu / max(1, result["saturated"]["all_messages"]), 2
    )
    result["saturated"]["server_cpu_share"] = round(cpu / wall, 2)
    if profiler is not None:
        profiler.wait(30)
    offered = n / PACE_S
    if offered <= 0.8 * result["saturated"]["messages_per_s"]:
        result["paced"] = await paced(senders, mail, SECONDS)
    else:
        # Beyond what this server sustains: the latency would only measure a growing queue.
        result["paced"] = {"offered_per_s": offered, "over_capacity": True}
    for conn in conns:
        await conn.close()
    await asyncio.gather(*readers)
    return result


def show(n: int, label: str, product: dict[str, Any], bare: dict[str, Any]) -> None:
    def paced(r: dict[str, Any]) -> str:
        p = r["paced"]
        return (
            "over capacity" if p.get("over_capacity") else f"{p['p50_ms']:.1f}/{p['p99_ms']:.1f} ms"
        )

    print(
        f"{n:5d} conversations, product on {label}: saturated "
        f"{product['saturated']['messages_per_s']:7.1f}/s (bare {bare['saturated']['messages_per_s']:7.1f}/s)"
        f", server CPU {product['saturated']['server_cpu_ms_per_message']} ms/message"
        f" at {product['saturated']['server_cpu_share']:.0%} of a core"
        f" (bare {bare['saturated']['server_cpu_ms_per_message']} ms)"
        f" | paced p50/p99 {paced(product)} (bare {paced(bare)})",
        flush=True,
    )


def main() -> None:
    group, site = fresh_database()
    team = agents(group, AGENTS, capacity=10_000)
    cookies = [session_cookie(a) for a in team]
    site_key = site.widget_key
    connection.close()
    levels: dict[str, Any] = {}
    unlimited = {"RATE_VISITOR_MESSAGES": "0/60", "RATE_VISITOR_SESSIONS": "0/3600"}
    setup = {"site_key": site_key, "cookies": cookies}
    with stack(app="bench.bare_asgi:application", **unlimited) as server:
        for n in SIZES:
            bare = asyncio.run(measure("bare", server, n))
            product = asyncio.run(measure("product", server, n, **setup))
            ratio = product["saturated"]["messages_per_s"] / bare["saturated"]["messages_per_s"]
            levels[str(n)] = {"product": product, "bare": bare, "throughput_ratio": round(ratio, 2)}
            show(n, "1 process ", product, bare)
    # Scale-out on the same box: two ASGI processes behind one port (uvicorn --workers 2).
    with stack(app="bench.bare_asgi:application", processes=2, **unlimited) as server:
        for n in SIZES:
            product = asyncio.run(measure("product", server, n, **setup))
            levels[str(n)]["product_2_processes"] = product
            show(n, "2 processes", product, levels[str(n)]["bare"])
    record(
        "ingest",
        {
            "agents": AGENTS,
            "seconds_per_run": SECONDS,
            "paced_interval_s": PACE_S,
            "levels": levels,
            "target": "throughput >= 0.5 of bare; paced p99 < 100 ms at 200 conversations",
        },
    )


if __name__ == "__main__":
    main()
