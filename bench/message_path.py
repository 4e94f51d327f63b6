"""`message_path`: what one visitor message costs the process's database thread, in process.

50 visitors of a site with 10 agents online each send messages through the wrapper the
sockets use (rate limit, store, route, summary; events go to the channel layer), one at a
time, as the one database thread runs them. Prints wall and CPU milliseconds per message for
three rounds of 100. No server and no WebSockets: it isolates the store from the event loop,
so two builds can be compared on a busy machine by their CPU per message.

    BENCH_DB=helpdesk_micro ./scripts/test-env.sh .venv/bin/python bench/message_path.py
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

os.environ["DB_CONN_MAX_AGE"] = "60"  # as deployed: connections kept between trips
os.environ["RATE_VISITOR_MESSAGES"] = "100000/60"  # counted, never reached

from common import agents, fresh_database
from django.db import connection

from helpdesk import ratelimit, services
from helpdesk.dbtrips import database_trip
from helpdesk.models import Visitor
from routing import presence

VISITORS = 50
ROUNDS = 3
PER_ROUND = 100


def store(visitor: Visitor) -> None:
    ratelimit.hit("visitor_messages", visitor.id.hex, what="messages")
    services.message_send_by_visitor(
        visitor=visitor, client_id=uuid.uuid4(), body="where is my parcel, order 1234?"
    )


async def run(visitors: list[Visitor]) -> list[tuple[float, float]]:
    for v in visitors:  # first messages: new conversations, routed
        await database_trip(store)(v)
    rounds = []
    for _ in range(ROUNDS):
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(PER_ROUND):
            await database_trip(store)(visitors[i % len(visitors)])
        rounds.append(
            (
                (time.perf_counter() - wall) / PER_ROUND * 1000,
                (time.process_time() - cpu) / PER_ROUND * 1000,
            )
        )
    await asyncio.sleep(0.2)  # the last events leave
    return rounds


def main() -> None:
    group, site = fresh_database()
    for agent in agents(group, 10, capacity=10_000):
        presence.store().connect("agent", str(agent.id), f"bench-{agent.id}")
    visitors = [Visitor.objects.create(site=site) for _ in range(VISITORS)]
    connection.close()
    rounds = asyncio.run(run(visitors))
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    shown = ", ".join(f"{w:.1f}/{c:.1f}" for w, c in rounds)
    print(f"message_path: ms per message, wall/CPU: {shown} (load average {load})")


if __name__ == "__main__":
    main()
