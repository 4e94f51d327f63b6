"""`reconnect_storm`: 10,000 returning visitors' sockets on one ASGI process, cut all at once,
and all of them back with a hello; against the bare handshake on the same server.

Real processes: uvicorn (one ASGI process, bench/bare_asgi.py), PostgreSQL, Redis; the load
generator is this process (uvloop), on the same box.

- **returning**: SOCKETS returning visitors (a valid token, the cursor current, an agent on
  duty) connect and are welcomed. Then every socket is cut at once (the TCP connection
  aborted, as when a load balancer or the network drops them), and every client connects
  again at once and says hello: the server meets SOCKETS disconnects and SOCKETS hellos
  together. At most IN_FLIGHT handshakes are under way at a time (the listen backlog);
  a hello is sent as soon as its socket opens, so the hellos queue in the server.
- **bare** (the baseline): the same with `/ws/bare/` sockets (no hello).

Counted for each hello of the storm: welcomed, closed for a hello timeout (error
`not_authenticated`, close 4401), or failed otherwise (another error or close, no answer
within ANSWER_S). Reported: seconds from the cut to the last welcome, and the hello's
latency (sent to welcomed). Target: every hello welcomed, none timed out.

    ./scripts/test-env.sh .venv/bin/python bench/reconnect_storm.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections import Counter
from typing import Any

import uvloop
import websockets
from common import (
    agents,
    fresh_database,
    open_files_for,
    profile,
    record,
    returning_visitors,
    server_cpu_s,
    stack,
)
from django.db import connection

from routing import presence
from tests.processes import Server

SOCKETS = int(os.environ.get("BENCH_STORM_SOCKETS", "10000"))
IN_FLIGHT = 500
ANSWER_S = 120.0


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def say_hello(conn: Any, hello: dict[str, Any]) -> tuple[str, float]:
    """Send ``hello``; how it ended (welcome, timeout, failed) and how long it took."""
    sent = time.perf_counter()
    await conn.send(json.dumps(hello))
    try:
        async with asyncio.timeout(ANSWER_S):
            while True:
                frame = json.loads(await conn.recv())
                if frame["type"] == "welcome":
                    return "welcomed", time.perf_counter() - sent
                if frame["type"] == "error":
                    timed_out = frame.get("code") == "not_authenticated"
                    return ("timed out" if timed_out else "failed"), 0.0
    except websockets.ConnectionClosed as exc:
        timed_out = exc.rcvd is not None and exc.rcvd.code == 4401
        return ("timed out" if timed_out else "failed"), 0.0
    except TimeoutError:
        return "failed", 0.0


async def storm(url: str, hellos: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Connect SOCKETS (saying hello where given), cut them all, connect them all again."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> tuple[Any, str, float]:
        async with gate:  # the handshake only: the hello waits in the server, not here
            try:
                conn = await websockets.connect(url, compression=None, open_timeout=ANSWER_S)
            except (OSError, TimeoutError, websockets.InvalidHandshake):
                return None, "failed", 0.0
        if hellos is None:
            return conn, "welcomed", 0.0
        outcome, took = await say_hello(conn, hellos[i])
        return conn, outcome, took

    async def everyone() -> tuple[list[Any], Counter[str], list[float], float]:
        started = time.perf_counter()
        done = await asyncio.gather(*(one(i) for i in range(SOCKETS)))
        took = time.perf_counter() - started
        outcomes = Counter(outcome for _, outcome, _ in done)
        latencies = [t * 1000 for _, outcome, t in done if outcome == "welcomed"]
        return [c for c, _, _ in done if c is not None], outcomes, latencies, took

    held, first, _, connect_s = await everyone()
    assert first["welcomed"] == SOCKETS, first
    for conn in held:  # all at once: the network drops them
        conn.transport.abort()
    held, outcomes, latencies, storm_s = await everyone()
    for conn in held:
        await conn.close()
    result: dict[str, Any] = {
        "sockets": SOCKETS,
        "connect_s": round(connect_s, 1),
        "storm_s": round(storm_s, 1),
        "welcomed": outcomes["welcomed"],
        "timed_out": outcomes["timed out"],
        "failed": outcomes["failed"],
    }
    if hellos is not None and latencies:
        result |= {
            "hello_p50_ms": round(pct(latencies, 50)),
            "hello_p99_ms": round(pct(latencies, 99)),
            "hello_max_ms": round(max(latencies)),
        }
    return result


def measure(server: Server, url: str, hellos: list[dict[str, Any]] | None) -> dict[str, Any]:
    cpu = server_cpu_s(server)
    profiler = None
    if hellos is not None and os.environ.get("BENCH_PROFILE"):
        profiler = profile(server, "reconnect-storm", 60)
    result = uvloop.run(storm(url, hellos))
    if profiler is not None:
        profiler.wait(120)
    result["server_cpu_s"] = round(server_cpu_s(server) - cpu, 1)
    return result


def main() -> None:
    open_files_for(SOCKETS)
    group, site = fresh_database()
    [agent] = agents(group, 1, capacity=10_000)
    hellos = returning_visitors(site, agent, SOCKETS)
    connection.close()
    unlimited = {"RATE_VISITOR_SESSIONS": "0/3600"}
    with stack(app="bench.bare_asgi:application", **unlimited) as server:
        bare = measure(server, f"{server.ws}/ws/bare/?role=visitor&agent=0", None)
        print(f"bare:      {bare}", flush=True)
        presence.store().connect("agent", str(agent.id), "bench-agent")  # on duty
        returning = measure(server, f"{server.ws}/ws/visitor/", hellos)
        print(f"returning: {returning}", flush=True)
    ratio = returning["storm_s"] / bare["storm_s"]
    print(
        f"{SOCKETS:,} sockets cut and back: all welcomed in {returning['storm_s']} s "
        f"({ratio:.1f}x the bare reconnect, {bare['storm_s']} s); "
        f"{returning['timed_out']} hellos timed out, {returning['failed']} failed",
        flush=True,
    )
    record(
        "reconnect_storm",
        {
            "sockets": SOCKETS,
            "in_flight_handshakes": IN_FLIGHT,
            "returning": returning,
            "bare": bare,
            "time_ratio_to_bare": round(ratio, 2),
            "target": "every hello welcomed: none timed out, none failed",
        },
    )
    assert returning["welcomed"] == SOCKETS, returning


if __name__ == "__main__":
    main()
