"""Scale-out under load: two ASGI server processes and two Celery worker processes over one
PostgreSQL and one Redis, the way production runs more of each.

Visitors write on server one while nobody is online; Alice, Bob and Carol sign in on server
two while the visitors keep writing, so the flushes run on the workers while new messages
arrive; the agents answer every conversation and the visitors, still on server one, get the
replies; then every visitor resends one of its messages through server two. Every message is
counted: stored == delivered, each to the one agent it is assigned to; a resend is stored
once; and only a message that went through the offline store may reach an agent's socket
twice (by the flush and live, the race the client dedupes by seq); none is ever missing.

The processes reach PostgreSQL directly, then again through a PgBouncer in transaction
pooling mode with fewer server connections than they open (docs/deployment.md, "Behind
PgBouncer"): whatever state outlived a transaction would meet another process's.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async
from django.db import connection

from helpdesk.models import Conversation, Message
from offline.models import OfflineMessage
from tests import pgbouncer
from tests.factories import AgentFactory, UserFactory
from tests.processes import Server, celery_worker, database_url_for, server_env
from tests.ws import session_cookie

pytestmark = pytest.mark.processes

VISITORS = 30
BEFORE, DURING = 3, 3  # messages per visitor while nobody is online, and while agents sign in


@dataclass
class Route:
    """How the processes reach the test database: their settings, and the PgBouncer between."""

    env: dict[str, str]
    bouncer: pgbouncer.PgBouncer | None = None


@pytest.fixture(params=["postgres", "pgbouncer"])
def route(request, tmp_path, transactional_db) -> Iterator[Route]:
    name = connection.settings_dict["NAME"]
    if request.param == "postgres":
        yield Route({"DATABASE_URL": database_url_for(name), "DB_CONN_MAX_AGE": "0"})
        return
    if not pgbouncer.BINARY:
        pytest.skip(
            "pgbouncer is not installed (Debian: apt-get install pgbouncer; "
            "scripts/test-env.sh installs it when run as root)"
        )
    bouncer = pgbouncer.PgBouncer(tmp_path, os.environ["DATABASE_URL"]).start()
    try:
        # Kept client connections (as in production) meet a different server connection
        # from one transaction to the next.
        env = {
            "DATABASE_URL": bouncer.url_for(name),
            "DATABASE_TRANSACTION_POOLING": "true",
            "DB_CONN_MAX_AGE": "60",
        }
        yield Route(env, bouncer)
    finally:
        bouncer.stop()


@pytest.fixture
def deployment(tmp_path, route):
    queue = f"scale-{uuid.uuid4().hex}"
    env = server_env(
        **route.env,
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_QUEUE=queue,
        RATE_VISITOR_MESSAGES="0/60",
        RATE_VISITOR_SESSIONS="0/3600",
    )
    servers = [Server(env, tmp_path / f"server{i}.log") for i in (1, 2)]
    workers = [
        celery_worker(
            env,
            tmp_path / f"worker{i}.log",
            *("--concurrency=2", "--loglevel=WARNING", f"--hostname=w{i}-{queue}@%h"),
        )
        for i in (1, 2)
    ]
    try:
        yield [s.start() for s in servers]
    finally:
        for s in servers:
            s.stop()
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(15)


class Agent:
    """An agent's socket that keeps every visitor message it was sent, flush or live."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.received: list[str] = []  # message ids, in arrival order, duplicates kept
        self.conversations: set[str] = set()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.conn:
                frame = json.loads(raw)
                messages = frame.get("messages") if frame["type"] == "flush" else None
                if frame["type"] == "message":
                    messages = [frame["message"]]
                for m in messages or []:
                    if m["sender"] == "visitor":
                        self.received.append(m["id"])
                        self.conversations.add(m["conversation_id"])
        except websockets.ConnectionClosed:
            return


class Visitor:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.replies: list[str] = []
        self.conversation_id: str | None = None
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.conn:
                frame = json.loads(raw)
                if frame["type"] == "message.ack":
                    self.acks[frame["client_id"]].set_result(frame["message"])
                elif frame["type"] == "message" and frame["message"]["sender"] == "agent":
                    self.replies.append(frame["message"]["id"])
        except websockets.ConnectionClosed:
            return

    async def send(self, body: str, client_id: str | None = None) -> dict[str, Any]:
        client_id = client_id or str(uuid.uuid4())
        self.acks[client_id] = asyncio.get_running_loop().create_future()
        await self.conn.send(
            json.dumps({"type": "message.send", "client_id": client_id, "body": body})
        )
        message = await asyncio.wait_for(self.acks[client_id], 30)
        self.conversation_id = message["conversation_id"]
        return {"client_id": client_id, **message}


async def visitor_on(server: Server, site_key: str, token: str | None = None) -> tuple[Any, str]:
    conn = await websockets.connect(f"{server.ws}/ws/visitor/")
    await conn.send(json.dumps({"type": "hello", "site_key": site_key, "token": token}))
    while (frame := json.loads(await conn.recv()))["type"] != "welcome":
        pass
    # Someone new has no token until their first write; the pending one (as client.js keeps
    # it) finds the visitor that write made.
    return conn, frame["token"] or frame["pending_token"]


def where_they_are(missing: set[str], team: list[Any], agents: list[Agent]) -> str:
    """For each missing message: stored?, its offline row, whose conversation, and what that
    agent's socket holds of the conversation."""
    sockets = {t.id: a for t, a in zip(team, agents, strict=True)}
    lines = []
    for message_id in sorted(missing):
        message = Message.objects.filter(pk=message_id).select_related("conversation").first()
        if message is None:
            lines.append(f"  {message_id}: not stored (acknowledged but lost!)")
            continue
        conv = message.conversation
        offline = list(
            OfflineMessage.objects.filter(message_id=message_id).values_list(
                "audience", "state", "delivered_at"
            )
        )
        holder = sockets.get(conv.assigned_agent_id)
        got = sorted(
            Message.objects.filter(
                conversation=conv, sender="visitor", id__in=holder.received if holder else []
            ).values_list("seq", flat=True)
        )
        lines.append(
            f"  {message_id}: seq {message.seq} of conversation {conv.pk} "
            f"(agent {conv.assigned_agent_id}, assigned at {conv.assigned_at}), "
            f"offline rows {offline}, that agent's socket has seqs {got}"
        )
    return "\n".join(lines)


async def until(condition: Any, what: str, seconds: float = 60) -> None:
    """Wait for the processes' work to show, polling the database, bounded by a deadline."""
    try:
        async with asyncio.timeout(seconds):
            while not await database_sync_to_async(condition)():
                await asyncio.sleep(0.1)  # the other processes are working; bounded above
    except TimeoutError:
        raise AssertionError(f"not within {seconds} s: {what}") from None


async def test_two_servers_two_workers_under_load_lose_nothing_and_store_nothing_twice(
    acme, support, deployment, route
):
    one, two = deployment
    team = await database_sync_to_async(
        lambda: [
            AgentFactory(user=UserFactory(username=n), member_of=[support], capacity=VISITORS)
            for n in ("alice", "bob", "carol")
        ]
    )()
    cookies = [await database_sync_to_async(session_cookie)(a.user) for a in team]

    # 1. Nobody online: thirty visitors write on server one, all at once.
    opened = await asyncio.gather(*(visitor_on(one, acme.widget_key) for _ in range(VISITORS)))
    visitors = [Visitor(conn) for conn, _ in opened]
    tokens = [token for _, token in opened]
    sent = await asyncio.gather(
        *(v.send(f"before {i}.{k}") for i, v in enumerate(visitors) for k in range(BEFORE))
    )

    # 2. The agents sign in on server two while the visitors keep writing: the flushes run
    #    on the two workers as new messages arrive.
    async def sign_in(cookie: str) -> Agent:
        conn = await websockets.connect(
            f"{two.ws}/ws/agent/",
            additional_headers={"Cookie": f"sessionid={cookie}", "Origin": two.base},
        )
        return Agent(conn)

    agents, during = await asyncio.gather(
        asyncio.gather(*(sign_in(c) for c in cookies)),
        asyncio.gather(
            *(v.send(f"during {i}.{k}") for i, v in enumerate(visitors) for k in range(DURING))
        ),
    )
    sent += during
    expected = VISITORS * (BEFORE + DURING)
    await until(
        lambda: not Conversation.objects.filter(assigned_agent__isnull=True).exists(),
        "every conversation assigned",
    )
    ids = {m["id"] for m in sent}
    try:
        async with asyncio.timeout(120):
            while {i for a in agents for i in a.received} != ids:
                await asyncio.sleep(0.05)  # frames in flight between the processes
    except TimeoutError:
        missing = ids - {i for a in agents for i in a.received}
        report = await database_sync_to_async(where_they_are)(missing, team, agents)
        raise AssertionError(
            f"{len(missing)} of {len(ids)} messages never reached an agent within 120 s:\n" + report
        ) from None

    # 3. The agents answer every conversation (server two); the visitors get it on server one.
    assigned = await database_sync_to_async(
        lambda: dict(Conversation.objects.values_list("id", "assigned_agent_id"))
    )()
    by_agent = {t.id: a for t, a in zip(team, agents, strict=True)}
    for conversation_id, agent_id in assigned.items():
        await by_agent[agent_id].conn.send(
            json.dumps(
                {
                    "type": "message.send",
                    "client_id": str(uuid.uuid4()),
                    "conversation_id": str(conversation_id),
                    "body": "Thanks, on it.",
                }
            )
        )
    async with asyncio.timeout(60):
        while any(not v.replies for v in visitors):
            await asyncio.sleep(0.05)

    # 4. Every visitor resends its first message through server two: stored once.
    for token, visitor in zip(tokens, visitors, strict=True):
        conn, _ = await visitor_on(two, acme.widget_key, token)
        again = Visitor(conn)
        first = next(m for m in sent if m["conversation_id"] == visitor.conversation_id)
        resent = await again.send("a resend", client_id=first["client_id"])
        assert resent["id"] == first["id"]
        await conn.close()

    # Counting.
    stored = await database_sync_to_async(
        lambda: list(Message.objects.filter(sender="visitor").values_list("id", flat=True))
    )()
    assert len(stored) == expected == len(ids)
    assert {str(i) for i in stored} == ids
    replies = await database_sync_to_async(Message.objects.filter(sender="agent").count)()
    assert replies == VISITORS == sum(len(v.replies) for v in visitors)
    went_offline = await database_sync_to_async(
        lambda: {str(i) for i in OfflineMessage.objects.values_list("message_id", flat=True)}
    )()
    for team_member, agent in zip(team, agents, strict=True):
        mine = {str(c) for c, a in assigned.items() if a == team_member.id}
        assert agent.conversations <= mine  # nobody receives another agent's conversation
        twice = {i for i, n in Counter(agent.received).items() if n > 1}
        assert twice <= went_offline, "a live-only message reached a socket twice"
    owners = defaultdict(set)
    for team_member, agent in zip(team, agents, strict=True):
        for i in agent.received:
            owners[i].add(team_member.id)
    assert all(len(o) == 1 for o in owners.values())  # each message to exactly one agent
    if route.bouncer:  # the processes' writes went through it, not around it
        carried = await asyncio.to_thread(
            route.bouncer.transactions, connection.settings_dict["NAME"]
        )
        assert carried >= expected + VISITORS

    for client in [*agents, *visitors]:
        await client.conn.close()
    await asyncio.gather(*(c.reader for c in [*agents, *visitors]))
