"""`hellos`: how many returning visitors' hellos one ASGI process answers per second, against
the bare handshake on the same server, in the same run.

Real processes: uvicorn (one ASGI process, bench/bare_asgi.py), PostgreSQL, Redis. The load
generator is this process (uvloop), on the same box: CONCURRENCY clients, each in a loop,
counted over SECONDS after WARM_S:

- **bare** (the baseline): open a socket to `/ws/bare/` (a Channels consumer that accepts
  and does nothing else) and close it;
- **returning**: open `/ws/visitor/`, say hello as one of VISITORS returning visitors (a
  valid token, the cursor current, the page they were last on; an agent on duty), wait for
  the welcome, close;
- **full path** (for reference): the same hellos on a server whose one-statement path is off
  (`BENCH_HELLO_FULL_PATH=1`, bench/bare_asgi.py): every hello on the database thread, as
  before it.

Bare and returning windows alternate ROUNDS times; the medians are reported (the cores are
shared, and one window can catch someone else's load).

Every hello must be welcomed (checked); a cycle that fails fails the run.

    ./scripts/test-env.sh .venv/bin/python bench/hellos.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from typing import Any

import uvloop
import websockets
from common import (
    agents,
    fresh_database,
    profile,
    record,
    returning_visitors,
    server_cpu_s,
    stack,
)
from django.db import connection

from routing import presence
from tests.processes import Server

VISITORS = int(os.environ.get("BENCH_HELLO_VISITORS", "2000"))
CONCURRENCY = int(os.environ.get("BENCH_HELLO_CONCURRENCY", "50"))
SECONDS = float(os.environ.get("BENCH_HELLO_SECONDS", "4"))
ROUNDS = int(os.environ.get("BENCH_HELLO_ROUNDS", "3"))
WARM_S = 1.0
TARGET = 0.4  # returning hellos per second, as a share of bare handshakes per second


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def cycles(url: str, hellos: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Open (and say hello on) sockets in CONCURRENCY loops; what completes in the window."""
    window_start = time.perf_counter() + WARM_S
    deadline = window_start + SECONDS
    took: list[float] = []
    everything = 0

    async def client(i: int) -> None:
        nonlocal everything
        k = i
        while (started := time.perf_counter()) < deadline:
            async with websockets.connect(url, compression=None, open_timeout=60) as conn:
                if hellos is not None:
                    await conn.send(json.dumps(hellos[k % len(hellos)]))
                    k += CONCURRENCY
                    while (frame := json.loads(await conn.recv()))["type"] != "welcome":
                        assert frame["type"] not in ("error",), frame
            ended = time.perf_counter()
            everything += 1
            if window_start <= ended <= deadline:
                took.append(ended - started)

    await asyncio.gather(*(client(i) for i in range(CONCURRENCY)))
    ms = [t * 1000 for t in took]
    return {
        "all_cycles": everything,
        "cycles": len(ms),
        "per_s": round(len(ms) / SECONDS, 1),
        "p50_ms": round(pct(ms, 50), 1),
        "p99_ms": round(pct(ms, 99), 1),
    }


def measure(
    server: Server, hellos: list[dict[str, Any]] | None, agent_id: int, label: str = "hellos"
) -> dict[str, Any]:
    presence.store().connect("agent", str(agent_id), "bench-agent")  # on duty, within its TTL
    if hellos is None:
        return timed(server, f"{server.ws}/ws/bare/?role=visitor&agent=0", None)
    profiler = profile(server, label, WARM_S + SECONDS) if os.environ.get("BENCH_PROFILE") else None
    result = timed(server, f"{server.ws}/ws/visitor/", hellos)
    if profiler is not None:
        profiler.wait(30)
    return result


def timed(server: Server, url: str, hellos: list[dict[str, Any]] | None) -> dict[str, Any]:
    """``cycles``, with the server's CPU per cycle: a figure the shared cores disturb less
    than the rate (near 1,000 ms of CPU per second of wall time: the process is the limit)."""
    cpu, wall = server_cpu_s(server), time.perf_counter()
    result = uvloop.run(cycles(url, hellos))
    cpu, wall = server_cpu_s(server) - cpu, time.perf_counter() - wall
    result["server_cpu_ms_per_cycle"] = round(1000 * cpu / max(1, result["all_cycles"]), 2)
    result["server_cpu_share"] = round(cpu / wall, 2)
    return result


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median rate (the cores are shared: one window can catch another's load)."""
    return sorted(runs, key=lambda r: r["per_s"])[len(runs) // 2]


def main() -> None:
    group, site = fresh_database()
    [agent] = agents(group, 1, capacity=10_000)
    hellos = returning_visitors(site, agent, VISITORS)
    connection.close()
    unlimited = {"RATE_VISITOR_SESSIONS": "0/3600"}
    bares, returnings = [], []
    with stack(app="bench.bare_asgi:application", **unlimited) as server:
        for _ in range(ROUNDS):  # side by side, so both see the same load
            bares.append(measure(server, None, agent.id))
            returnings.append(measure(server, hellos, agent.id))
            print(f"bare {bares[-1]}\nreturning {returnings[-1]}", flush=True)
    with stack(app="bench.bare_asgi:application", BENCH_HELLO_FULL_PATH="1", **unlimited) as server:
        full = measure(server, hellos, agent.id, "hellos-full-path")
    print(f"full path {full}", flush=True)
    bare, returning = median_run(bares), median_run(returnings)
    ratio = returning["per_s"] / bare["per_s"]
    cpu_ratio = bare["server_cpu_ms_per_cycle"] / returning["server_cpu_ms_per_cycle"]
    print(
        f"returning hellos {returning['per_s']}/s: {ratio:.2f}x the bare handshake rate "
        f"{bare['per_s']}/s (full path {full['per_s']}/s, {full['per_s'] / bare['per_s']:.2f}x);"
        f" server CPU per cycle {returning['server_cpu_ms_per_cycle']} ms, bare "
        f"{bare['server_cpu_ms_per_cycle']} ms ({cpu_ratio:.2f}x)",
        flush=True,
    )
    record(
        "hellos",
        {
            "visitors": VISITORS,
            "concurrency": CONCURRENCY,
            "seconds": SECONDS,
            "rounds": ROUNDS,
            "bare": bare,
            "returning": returning,
            "full_path": full,
            "bare_runs": [r["per_s"] for r in bares],
            "returning_runs": [r["per_s"] for r in returnings],
            "ratio_to_bare": round(ratio, 2),
            "cpu_ratio_to_bare": round(cpu_ratio, 2),
            "full_path_ratio_to_bare": round(full["per_s"] / bare["per_s"], 2),
            "target": f"returning hellos >= {TARGET} x the bare handshake rate",
        },
    )


if __name__ == "__main__":
    main()
