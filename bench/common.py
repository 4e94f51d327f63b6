"""Shared by the benchmarks: a database of their own, seeding, and real processes.

Import this first: it points DATABASE_URL at the bench database and sets Django up.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

# A database of its own; the seeded million-message history (`report`, `reminder_scan`) has
# another, so the other benchmarks' flushes keep it and it is seeded once per machine.
BENCH_DB = os.environ.get("BENCH_DB", "helpdesk_bench")
_url = urllib.parse.urlparse(os.environ["DATABASE_URL"])
os.environ["DATABASE_URL"] = _url._replace(path=f"/{BENCH_DB}").geturl()
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import psycopg  # noqa: E402

with psycopg.connect(_url._replace(path="/postgres").geturl(), autocommit=True) as _c:
    if not _c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
        _c.execute(f'CREATE DATABASE "{BENCH_DB}"')

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from helpdesk import tokens  # noqa: E402
from helpdesk.models import Agent, AgentGroup, Conversation, Message, Rating, Site, Visitor  # noqa: E402
from offline.models import OfflineMessage  # noqa: E402
from tests.processes import WS_OPTIONS, Server, celery_worker, server_env  # noqa: E402


def fresh_database() -> tuple[AgentGroup, Site]:
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    group = AgentGroup.objects.create(name="Support", default_capacity=10_000)
    return group, Site.objects.create(name="Bench", default_group=group)


VOLUME_CONVERSATIONS = int(os.environ.get("BENCH_REPORT_CONVERSATIONS", "100000"))
VOLUME_MESSAGES = int(os.environ.get("BENCH_REPORT_MESSAGES", str(VOLUME_CONVERSATIONS * 10)))


def seeded_volume() -> float:
    """The seed_volume history (100,000 conversations and 1,000,000 messages by default),
    shared by `report` and `reminder_scan`: seeded once, reused while its size matches.
    Returns the seconds spent seeding (0 when reused)."""
    import io

    call_command("migrate", verbosity=0)
    # reminder_scan's live slice (the only open conversations; the seed resolves all of its).
    Conversation.objects.filter(status=Conversation.Status.OPEN).delete()
    if (
        Conversation.objects.count() == VOLUME_CONVERSATIONS
        and Message.objects.count() == VOLUME_MESSAGES
        and Site.objects.count() == 3
        and Rating.objects.exists()  # seeded before ratings existed: seed again
    ):
        return 0.0
    call_command("flush", interactive=False, verbosity=0)
    started = time.perf_counter()
    call_command(
        "seed_volume",
        conversations=VOLUME_CONVERSATIONS,
        messages=VOLUME_MESSAGES,
        days=90,
        verbosity=0,
        stdout=io.StringIO(),
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def agents(group: AgentGroup, n: int, capacity: int) -> list[Agent]:
    team = []
    for i in range(n):
        user = get_user_model().objects.create_user(f"bench-agent-{i}", password=None)
        agent = Agent.objects.create(user=user, display_name=f"Agent {i}", capacity=capacity)
        agent.groups.add(group)
        team.append(agent)
    return team


def offline_backlog(group: AgentGroup, site: Site, conversations: int, per: int) -> None:
    """Conversations waiting in the group's queue, each with ``per`` offline messages."""
    visitors = Visitor.objects.bulk_create(Visitor(site=site) for _ in range(conversations))
    now = timezone.now()
    convs = Conversation.objects.bulk_create(
        Conversation(
            site=site,
            visitor=v,
            group=group,
            queued_at=now,
            group_entered_at=now,
            last_seq=per,
            waiting_since=now,
            last_message_at=now,
        )
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
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planned as in production, not on an empty table's guess


PAGE = "https://shop.example/orders"


def returning_visitors(site: Site, agent: Agent, n: int) -> list[dict[str, Any]]:
    """``n`` visitors who wrote, were answered by ``agent`` and left: their next ``hello``
    frames, with their tokens and current cursors, from the page they were last on."""
    now = timezone.now()
    seen = [{"url": PAGE, "title": "Orders", "at": now.isoformat()}]
    visitors = Visitor.objects.bulk_create(
        Visitor(site=site, page_url=PAGE, pages=seen, last_seen_at=now) for _ in range(n)
    )
    convs = Conversation.objects.bulk_create(
        Conversation(
            site=site,
            visitor=v,
            group=site.default_group,
            assigned_agent=agent,
            assigned_at=now,
            last_seq=2,
            last_message_at=now,
        )
        for v in visitors
    )
    Message.objects.bulk_create(
        (
            Message(conversation=c, seq=seq, sender=sender, agent=who, body=body)
            for c in convs
            for seq, sender, who, body in (
                (1, "visitor", None, "Where is my parcel?"),
                (2, "agent", agent, "On its way: tomorrow before noon."),
            )
        ),
        batch_size=5000,
    )
    return [
        {
            "type": "hello",
            "site_key": site.widget_key,
            "token": tokens.issue(site_id=site.id, visitor_id=v.id),
            "cursor": {"conversation_id": str(c.id), "seq": 2},
            "channel": "web",
            "page_url": PAGE,
        }
        for v, c in zip(visitors, convs, strict=True)
    ]


def open_files_for(sockets: int) -> None:
    """Every socket is a file, on both ends: this process's soft limit raised to what
    ``sockets`` need (the servers it starts inherit it), or a clear stop when the hard limit
    is lower (raise it with ``ulimit -Hn`` as root)."""
    needed = sockets + 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"{sockets:,} sockets need `ulimit -n {needed}`; the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def reset_backlog() -> None:
    """Back to 'nobody assigned, everything pending', then vacuumed and analysed: each run
    finds the tables as the first did (the resets leave every row dead once more, and
    autovacuum would otherwise clean them up in the middle of some timed run)."""
    OfflineMessage.objects.update(state="pending", delivered_at=None)
    Conversation.objects.update(
        assigned_agent=None, assigned_at=None, status=Conversation.Status.OPEN
    )
    vacuum_backlog()


def vacuum_backlog() -> None:
    tables = (OfflineMessage._meta.db_table, Conversation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {', '.join(tables)}")


def session_cookie(agent: Agent) -> str:
    client = Client()
    client.force_login(agent.user)
    return client.cookies["sessionid"].value


METRICS_TOKEN = "bench-only-metrics-token"  # noqa: S105 (a loopback bench stack)


def scrape(server: Server) -> str:
    """The server's /metrics text (every process of the stack)."""
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 (http on loopback)
        f"{server.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.read().decode()


@contextmanager
def stack(
    workers: int = 1,
    concurrency: int = 1,
    app: str = "helpdesk.asgi:application",
    processes: int = 1,
    ws_options: Sequence[str] = WS_OPTIONS,
    **env_overrides: str,
) -> Iterator[Server]:
    """uvicorn (``processes`` ASGI processes on one port, speaking WebSocket as production
    does unless ``ws_options`` says otherwise) plus Celery worker processes on the bench
    database, PostgreSQL and Redis."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    # Production's metrics set-up: every process's figures in one directory, /metrics on
    # the server adds them up (read it with scrape()).
    metrics_dir = RESULTS / "metrics"
    metrics_dir.mkdir(exist_ok=True)
    for old in metrics_dir.glob("*.db"):
        old.unlink()
    env = server_env(
        DB_CONN_MAX_AGE="60",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        METRICS_TOKEN=METRICS_TOKEN,
        **env_overrides,
    )
    server = Server(
        env, RESULTS / "uvicorn.log", app=app, workers=processes, ws_options=ws_options
    ).start()
    procs = [
        celery_worker(
            env,
            RESULTS / f"worker{i}.log",
            f"--concurrency={concurrency}",
            f"--hostname=bench{i}@%h",
            "--loglevel=WARNING",
            *(["--pool=solo"] if concurrency == 1 else []),
        )
        for i in range(workers)
    ]
    try:
        yield server
    finally:
        server.stop()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)


def server_cpu_s(server: Server) -> float:
    """User + system CPU seconds of the server process and its children (uvicorn workers)."""
    assert server.proc is not None
    pids = [server.proc.pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == server.proc.pid:
            pids.append(int(stat.parent.name))
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def profile(server: Server, name: str, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy samples the server for ``seconds`` (BENCH_PROFILE=1): collapsed stacks in
    bench/results/NAME.stacks, for a flame graph."""
    assert server.proc is not None
    return subprocess.Popen(
        [
            *(str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw"),
            *("--pid", str(server.proc.pid), "--nonblocking", "--subprocesses"),
            *("--duration", str(int(seconds))),
            *("--output", str(RESULTS / f"{name}.stacks")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def machine() -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "python": platform.python_version(),
    }


def record(name: str, result: dict[str, Any]) -> None:
    """Merge one benchmark's figures into bench/results/latest.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "latest.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = {"machine": machine(), **result}
    path.write_text(json.dumps(data, indent=2))
