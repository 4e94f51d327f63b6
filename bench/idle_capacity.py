"""`idle_capacity`: how many idle sockets one ASGI process holds with heartbeats, and the
memory each one costs, with clients that offer permessage-deflate as browsers do, against a
bare server started with the same options in the same run.

Product: uvicorn serving the helpdesk (Channels, Redis Pub/Sub layer, PostgreSQL), started
with production's WebSocket options (tests/processes.py ``WS_OPTIONS``). Each socket is a
returning visitor's widget left open: it says hello with its token (minted here for visitors
created in bulk), is welcomed, joins its two groups (visitor and site) and then only pings
every 25 s, as the widget does; the server refreshes its presence in Redis on each.

Baseline: bench/bare_pong.py, an ASGI app that answers every frame with a pong, served by
uvicorn with the same options; its clients do what the product's do (hello, then pings).
Reference: bench/bare_ws_server.py, the websockets library alone, accepting deflate when
the product does.

Every client offers permessage-deflate as browsers do (``permessage-deflate;
client_max_window_bits``, the websockets client's default); the server decides. Memory per
socket is the growth of the server process's resident memory (VmRSS) from a warm start
(WARM sockets open) to N sockets open after the hold, divided by the sockets added. All N
sockets must still be open and have had a pong for every ping at the end.

Bytes on the wire: after the hold, one more visitor says hello, pings, sends two messages and
says hello again (a welcome that carries them); each answer's frame size as received, with
compression offered and with it not offered.

Other options, for docs/performance.md's table (about 35 minutes for all six):

    BENCH_IDLE_WS=websockets-sansio,websockets,wsproto BENCH_IDLE_DEFLATE=true,false \\
      ./scripts/test-env.sh .venv/bin/python bench/idle_capacity.py
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
import uuid
import zlib
from pathlib import Path
from typing import Any

from common import RESULTS, fresh_database, record, stack
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect

from helpdesk import tokens
from helpdesk.models import Site, Visitor
from tests.processes import WS_OPTIONS, Server, free_port, server_env

SOCKETS = int(os.environ.get("BENCH_IDLE_SOCKETS", "10000"))
WARM = 200
HOLD_S = float(os.environ.get("BENCH_IDLE_HOLD_SECONDS", "30"))
PING_S = 25.0  # as the widget and the inbox (client-core.js)
PRODUCTION = (WS_OPTIONS[1], WS_OPTIONS[3] == "true")  # ("--ws", X, "--ws-per-message-deflate", Y)
IMPLEMENTATIONS = os.environ.get("BENCH_IDLE_WS", PRODUCTION[0]).split(",")
DEFLATE = [
    v == "true" for v in os.environ.get("BENCH_IDLE_DEFLATE", str(PRODUCTION[1]).lower()).split(",")
]
MESSAGES = (  # what a visitor typically writes
    "Hello, I ordered a pair of running shoes last week and they have not arrived yet. "
    "Could you check order 1042 for me?",
    "Thanks! The tracking page says it left the warehouse on Monday.",
)


def options(implementation: str, deflate: bool) -> tuple[str, ...]:
    return ("--ws", implementation, "--ws-per-message-deflate", str(deflate).lower())


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_s(pid: int) -> float:
    """The process's CPU time so far (user and system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_probe(base: str, what: str) -> str:
    # base is the bench server on loopback (http), never a user-given URL
    with urllib.request.urlopen(f"{base}/bench/memory?{what}", timeout=120) as response:  # noqa: S310
        return response.read().decode()


class Wire(ClientConnection):
    """A client connection that notes the size on the wire of each data frame it receives
    (header and payload as the server sent them, compressed or not)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raw, self.upgraded, self.frame_sizes = bytearray(), False, list[int]()

    def data_received(self, data: bytes) -> None:
        self.raw += data
        if not self.upgraded and b"\r\n\r\n" in self.raw:  # the handshake's answer
            del self.raw[: self.raw.index(b"\r\n\r\n") + 4]
            self.upgraded = True
        while self.upgraded and len(self.raw) >= 2:
            length, head = self.raw[1] & 0x7F, 2
            if length >= 126:
                head = 4 if length == 126 else 10
                length = int.from_bytes(self.raw[2:head], "big")
            if len(self.raw) < head + length:
                break
            if self.raw[0] & 0x0F in (0, 1, 2):  # data frames; control frames are not messages
                self.frame_sizes.append(head + length)
            del self.raw[: head + length]
        super().data_received(data)


def deflated_alone(text: str) -> int:
    """The size of the frame for ``text`` compressed on its own, as a server without context
    takeover would send it (websockets' 12-bit window and memLevel 5): computed, not sent."""
    encoder = zlib.compressobj(wbits=-12, memLevel=5)
    payload = len(encoder.compress(text.encode()) + encoder.flush(zlib.Z_SYNC_FLUSH)) - 4
    return payload + (2 if payload < 126 else 4 if payload < 65536 else 10)


async def wire_bytes(url: str, hello: dict[str, Any], offer: bool) -> list[dict[str, Any]]:
    """One visitor's answers and the bytes each took on the wire (``offer``: whether the
    client offers permessage-deflate)."""
    answers: list[dict[str, Any]] = []

    async def ask(conn: ClientConnection, frame: dict[str, Any], answer: str) -> None:
        assert isinstance(conn, Wire)
        await conn.send(json.dumps(frame))
        while True:
            text = await conn.recv()
            assert isinstance(text, str)
            got, size = json.loads(text), conn.frame_sizes.pop(0)  # frames arrive in order
            answers.append(
                {
                    "type": got["type"],
                    "text": len(text.encode()),
                    "wire": size,
                    "wire_alone": deflated_alone(text),
                }
            )
            if got["type"] == answer:
                return

    compression = "deflate" if offer else None
    async with connect(url, compression=compression, create_connection=Wire) as conn:
        await ask(conn, hello, "welcome")
        await ask(conn, {"type": "ping"}, "pong")
        for body in MESSAGES:
            sent = {"type": "message.send", "client_id": str(uuid.uuid4()), "body": body}
            await ask(conn, sent, "message.ack")
    async with connect(url, compression=compression, create_connection=Wire) as conn:
        await ask(conn, hello, "welcome")  # a returning visitor's: it carries the messages
    return answers


async def hold(
    url: str, hellos: list[dict[str, Any]], answer: str, pid: int, base: str | None = None
) -> dict[str, Any]:
    """Open a socket per hello (each says it and waits for ``answer``), hold them with pings;
    measure."""
    n, pongs = len(hellos), 0
    gate = asyncio.Semaphore(100)

    async def open_one(i: int) -> Any:
        async with gate:
            conn = await connect(url, open_timeout=60)  # offers deflate, as browsers do
            await conn.send(json.dumps(hellos[i]))
            frame = json.loads(await conn.recv())
            assert frame["type"] == answer, frame
            return conn

    async def heartbeat(conn: Any, until: float) -> None:
        nonlocal pongs
        await asyncio.sleep(random.uniform(0, PING_S))
        while True:
            await conn.send('{"type": "ping"}')
            while json.loads(await conn.recv())["type"] != "pong":
                pass
            pongs += 1
            if time.monotonic() + PING_S >= until:  # the next ping would be after the hold
                return
            await asyncio.sleep(PING_S)

    conns = [await open_one(i) for i in range(WARM)]
    await asyncio.sleep(1)
    warm_mib, warm_cpu = rss_mib(pid), cpu_s(pid)
    if base:  # where the memory of the sockets to come goes (BENCH_TRACEMALLOC=1)
        await asyncio.to_thread(memory_probe, base, "take=warm")
    started = time.perf_counter()
    conns += await asyncio.gather(*(open_one(i) for i in range(WARM, n)))
    connect_s = time.perf_counter() - started
    until = time.monotonic() + HOLD_S
    await asyncio.gather(*(heartbeat(c, until) for c in conns))
    held_mib, held_cpu = rss_mib(pid), cpu_s(pid)
    if base:
        grown = await asyncio.to_thread(memory_probe, base, "diff=warm")
        (RESULTS / "idle-memory.txt").write_text(grown + "\n")
        print(grown, flush=True)
    still_open = sum(1 for c in conns if c.state.name == "OPEN")
    negotiated = conns[0].response.headers.get("Sec-WebSocket-Extensions")
    for c in conns:
        await c.close()
    return {
        "sockets": n,
        "still_open": still_open,
        "pongs": pongs,
        "deflate_negotiated": negotiated,
        "connect_s": round(connect_s, 1),
        "rss_warm_mib": round(warm_mib, 1),
        "rss_held_mib": round(held_mib, 1),
        "kib_per_socket": round((held_mib - warm_mib) * 1024 / (n - WARM), 1),
        # the server's CPU to accept, welcome and hold each socket (hello and pings)
        "cpu_ms_per_socket": round((held_cpu - warm_cpu) * 1000 / (n - WARM), 2),
    }


def library(hellos: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    """The websockets library's own server (bench/bare_ws_server.py; ``mode``: deflate,
    deflate-no-context or none)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "bare_ws_server.py"),
            str(port),
            mode,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        return asyncio.run(hold(f"ws://127.0.0.1:{port}/", hellos, "pong", proc.pid))
    finally:
        proc.terminate()
        proc.wait(10)


def bare(hellos: list[dict[str, Any]], ws_options: tuple[str, ...]) -> dict[str, Any]:
    """bench/bare_pong.py under uvicorn with ``ws_options``."""
    log = RESULTS / "bare-pong.log"
    server = Server(server_env(), log, app="bench.bare_pong:application", ws_options=ws_options)
    server.start()
    try:
        assert server.proc is not None
        return asyncio.run(hold(f"{server.ws}/", hellos, "pong", server.proc.pid))
    finally:
        server.stop()


def product(
    hellos: list[dict[str, Any]], probe: list[dict[str, Any]], ws_options: tuple[str, ...]
) -> dict[str, Any]:
    unlimited = {"RATE_VISITOR_SESSIONS": "0/3600"}
    traced = bool(os.environ.get("BENCH_TRACEMALLOC"))
    if traced:  # tracing slows the server: these figures are for where memory goes only
        unlimited |= {"PYTHONTRACEMALLOC": "1"}
    app = "bench.bare_asgi:application"
    with stack(app=app, ws_options=ws_options, **unlimited) as server:
        assert server.proc is not None
        url, pid = f"{server.ws}/ws/visitor/", server.proc.pid
        held = asyncio.run(hold(url, hellos, "welcome", pid, base=server.base if traced else None))
        offered = asyncio.run(wire_bytes(url, probe[0], offer=True))
        plain = asyncio.run(wire_bytes(url, probe[1], offer=False))
    return {**held, "wire_offered": offered, "wire_not_offered": plain}


def hello(site: Site, visitor: Visitor) -> dict[str, Any]:
    return {
        "type": "hello",
        "site_key": site.widget_key,
        "token": tokens.issue(site_id=site.id, visitor_id=visitor.id),
        "channel": "web",
    }


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    _group, site = fresh_database()
    variants = [(ws, deflate) for ws in IMPLEMENTATIONS for deflate in DEFLATE]
    visitors = Visitor.objects.bulk_create(
        Visitor(site=site) for _ in range(SOCKETS + 2 * len(variants))
    )
    hellos = [hello(site, v) for v in visitors[:SOCKETS]]
    probes = [hello(site, v) for v in visitors[SOCKETS:]]
    connection.close()
    # With deflate among the variants, also what it costs without context takeover.
    modes = ["none"] * (False in DEFLATE) + ["deflate", "deflate-no-context"] * (True in DEFLATE)
    references = {mode: library(hellos, mode) for mode in modes}
    for mode, result in references.items():
        print(f"websockets library, {mode}: {result}", flush=True)
    runs = []
    for i, (ws, deflate) in enumerate(variants):
        ws_options = options(ws, deflate)
        baseline = bare(hellos, ws_options)
        print(f"bare uvicorn {' '.join(ws_options)}: {baseline}", flush=True)
        ours = product(hellos, probes[2 * i : 2 * i + 2], ws_options)
        print(f"helpdesk {' '.join(ws_options)}: {ours}", flush=True)
        negotiated = ours["deflate_negotiated"] or "none"
        mode = "deflate-no-context" if "server_no_context_takeover" in negotiated else "deflate"
        reference = references[mode if deflate else "none"]
        for result in (baseline, ours, *references.values()):
            assert result["still_open"] == SOCKETS, result
        ratio = ours["kib_per_socket"] / baseline["kib_per_socket"]
        to_library = ours["kib_per_socket"] / reference["kib_per_socket"]
        print(f"memory per socket: {ratio:.2f}x bare uvicorn, {to_library:.2f}x bare websockets")
        runs.append(
            {
                "ws": ws,
                "per_message_deflate": deflate,
                "options": " ".join(ws_options),
                "product": ours,
                "bare": baseline,
                "library": reference,
                "memory_ratio_to_baseline": round(ratio, 2),
                "memory_ratio_to_library": round(to_library, 2),
            }
        )
    chosen = next((r for r in runs if (r["ws"], r["per_message_deflate"]) == PRODUCTION), runs[0])
    record(
        "idle_capacity",
        {
            "sockets": SOCKETS,
            "hold_s": HOLD_S,
            "ping_every_s": PING_S,
            "compression_offered": True,
            **chosen,
            "runs": runs,
            "library_modes": references,
            "target": "10,000 sockets held; <= 1.5x the bare server's memory per socket",
        },
    )


if __name__ == "__main__":
    main()
