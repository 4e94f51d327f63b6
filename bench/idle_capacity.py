"""`idle_capacity`: how many idle sockets one ASGI process holds with heartbeats, and the
memory each one costs, against a bare websockets server (compression off) in the same run.

Product: uvicorn serving the helpdesk (Channels, Redis Pub/Sub layer, PostgreSQL). Each socket
is a returning visitor's widget left open: it says hello with its token (minted here for
visitors created in bulk), is welcomed, joins its two groups (visitor and site) and then only
pings every 25 s, as the widget does; the server refreshes its presence in Redis on each.

Baseline: bench/bare_ws_server.py, the websockets library answering pings with pongs.

Memory per socket is the growth of the server process's resident memory (VmRSS) from a warm
start (WARM sockets open) to N sockets open after the hold, divided by the sockets added. All
N sockets must still be open and have had a pong for every ping at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import RESULTS, fresh_database, record, stack
from django.db import connection

from helpdesk import tokens
from helpdesk.models import Visitor
from tests.processes import free_port

SOCKETS = int(os.environ.get("BENCH_IDLE_SOCKETS", "10000"))
WARM = 200
HOLD_S = float(os.environ.get("BENCH_IDLE_HOLD_SECONDS", "30"))
PING_S = 25.0  # as the widget and the inbox (client-core.js)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def memory_probe(base: str, what: str) -> str:
    # base is the bench server on loopback (http), never a user-given URL
    with urllib.request.urlopen(f"{base}/bench/memory?{what}", timeout=120) as response:  # noqa: S310
        return response.read().decode()


async def hold(
    url: str, hellos: list[dict[str, Any]] | None, pid: int, n: int, base: str | None = None
) -> dict[str, Any]:
    """Open ``n`` sockets (saying hello where given), hold them with pings; measure."""
    import websockets

    pongs = 0
    gate = asyncio.Semaphore(100)

    async def open_one(i: int) -> Any:
        async with gate:
            conn = await websockets.connect(url, compression=None, open_timeout=60)
            if hellos is not None:
                await conn.send(json.dumps(hellos[i]))
                frame = json.loads(await conn.recv())
                assert frame["type"] == "welcome", frame
            return conn

    async def heartbeat(conn: Any, until: float) -> None:
        nonlocal pongs
        await asyncio.sleep(random.uniform(0, PING_S))
        while time.monotonic() < until:
            await conn.send('{"type": "ping"}')
            while json.loads(await conn.recv())["type"] != "pong":
                pass
            pongs += 1
            await asyncio.sleep(PING_S)

    conns = [await open_one(i) for i in range(WARM)]
    await asyncio.sleep(1)
    warm_mib = rss_mib(pid)
    if base:  # where the memory of the sockets to come goes (BENCH_TRACEMALLOC=1)
        await asyncio.to_thread(memory_probe, base, "take=warm")
    started = time.perf_counter()
    conns += await asyncio.gather(*(open_one(i) for i in range(WARM, n)))
    connect_s = time.perf_counter() - started
    until = time.monotonic() + HOLD_S
    await asyncio.gather(*(heartbeat(c, until) for c in conns))
    held_mib = rss_mib(pid)
    if base:
        grown = await asyncio.to_thread(memory_probe, base, "diff=warm")
        (RESULTS / "idle-memory.txt").write_text(grown + "\n")
        print(grown, flush=True)
    still_open = sum(1 for c in conns if c.state.name == "OPEN")
    for c in conns:
        await c.close()
    return {
        "sockets": n,
        "still_open": still_open,
        "pongs": pongs,
        "connect_s": round(connect_s, 1),
        "rss_warm_mib": round(warm_mib, 1),
        "rss_held_mib": round(held_mib, 1),
        "kib_per_socket": round((held_mib - warm_mib) * 1024 / (n - WARM), 1),
    }


def bare(n: int) -> dict[str, Any]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "bare_ws_server.py"), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        return asyncio.run(hold(f"ws://127.0.0.1:{port}/", None, proc.pid, n))
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    _group, site = fresh_database()
    visitors = Visitor.objects.bulk_create(Visitor(site=site) for _ in range(SOCKETS))
    hellos = [
        {
            "type": "hello",
            "site_key": site.widget_key,
            "token": tokens.issue(site_id=site.id, visitor_id=v.id),
            "channel": "web",
        }
        for v in visitors
    ]
    connection.close()
    baseline = bare(SOCKETS)
    print(f"bare websockets: {baseline}", flush=True)
    unlimited = {"RATE_VISITOR_SESSIONS": "0/3600"}
    traced = bool(os.environ.get("BENCH_TRACEMALLOC"))
    if traced:  # tracing slows the server: these figures are for where memory goes only
        unlimited |= {"PYTHONTRACEMALLOC": "1"}
    with stack(app="bench.bare_asgi:application", **unlimited) as server:
        assert server.proc is not None
        url, pid = f"{server.ws}/ws/visitor/", server.proc.pid
        base = server.base if traced else None
        product = asyncio.run(hold(url, hellos, pid, SOCKETS, base=base))
    print(f"helpdesk:        {product}", flush=True)
    for result in (baseline, product):
        assert result["still_open"] == SOCKETS, result
    ratio = product["kib_per_socket"] / baseline["kib_per_socket"]
    print(f"memory per socket: {ratio:.2f}x the bare websockets server")
    record(
        "idle_capacity",
        {
            "sockets": SOCKETS,
            "hold_s": HOLD_S,
            "ping_every_s": PING_S,
            "product": product,
            "bare": baseline,
            "memory_ratio_to_baseline": round(ratio, 2),
            "target": ">= 10,000 sockets; <= 2x baseline memory per socket",
        },
    )


if __name__ == "__main__":
    main()
