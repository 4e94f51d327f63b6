"""Real processes: two ASGI servers on one PostgreSQL and Redis; the embedded default."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
import websockets
from channels.db import database_sync_to_async
from django.db import connection

from tests.processes import ROOT, WS_OPTIONS, Server, connect, database_url_for, server_env
from tests.ws import session_cookie

pytestmark = pytest.mark.processes


@pytest.fixture
def two_servers(tmp_path, transactional_db):
    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        CELERY_TASK_ALWAYS_EAGER="true",
        DB_CONN_MAX_AGE="0",
    )
    servers = [Server(env, tmp_path / f"server{i}.log") for i in (1, 2)]
    try:
        yield [s.start() for s in servers]
    finally:
        for s in servers:
            s.stop()


async def test_a_visitor_on_one_server_reaches_an_agent_on_the_other_and_back(
    acme, alice, two_servers
):
    one, two = two_servers
    cookie = await database_sync_to_async(session_cookie)(alice.user)
    agent = await connect(f"{two.ws}/ws/agent/", Cookie=f"sessionid={cookie}", Origin=two.base)
    await agent.expect("inbox")
    await agent.expect("flush", final=True)

    visitor = await connect(f"{one.ws}/ws/visitor/")
    await visitor.send(
        {"type": "hello", "site_key": acme.widget_key, "token": None, "cursor": None}
    )
    welcome = await visitor.expect("welcome")
    assert welcome["agents_online"] is True  # Alice is online on the other process

    ack = await visitor.send_message("hello from server one")
    frame = await agent.expect("message")
    assert frame["message"]["id"] == ack["message"]["id"]
    assert frame["conversation"]["assigned_agent_id"] == alice.id

    reply = await agent.send_message(
        "hello from server two", conversation_id=ack["message"]["conversation_id"]
    )
    frame = await visitor.expect("message", timeout=10)
    while frame["message"]["sender"] != "agent":
        frame = await visitor.expect("message")
    assert frame["message"]["id"] == reply["message"]["id"]
    await agent.conn.close()
    await visitor.conn.close()


def _login(base: str, username: str, password: str) -> str:
    """Sign in through the real login form; return the session cookie."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{base}/accounts/login/").read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": csrf}
    )
    request = urllib.request.Request(
        f"{base}/accounts/login/", data=data.encode(), headers={"Referer": base + "/"}
    )
    opener.open(request).read()
    return next(c.value for c in jar if c.name == "sessionid")


def embedded(tmp_path, **extra: str) -> tuple[dict[str, str], str]:
    """The embedded default's environment (nothing set), migrated and seeded; and what
    seed_demo printed."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "CELERY_TASK_ALWAYS_EAGER"}
    }
    env |= {"DATA_DIR": str(tmp_path), **extra}
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    seeded = subprocess.run(
        [*manage, "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    return env, seeded


def test_production_starts_uvicorn_with_the_websocket_options_of_the_test_servers():
    """scripts/run.sh and tests/processes.py (hence the benchmarks) speak WebSocket alike:
    docs/performance.md, "Memory per socket with compression offered"."""
    script = (ROOT / "scripts" / "run.sh").read_text().replace("\\\n", " ")
    uvicorn = next(line for line in script.splitlines() if "bin/uvicorn" in line)
    assert " ".join(WS_OPTIONS) in " ".join(uvicorn.split())


async def test_a_browsers_offer_of_permessage_deflate_is_declined(app_server):
    """Compression would keep a compressor and a decompressor per idle socket (about 40 KiB)."""
    conn = await websockets.connect(f"{app_server.ws}/ws/visitor/")  # offers it, as browsers do
    try:
        assert "Sec-WebSocket-Extensions" not in conn.response.headers
        assert conn.protocol.extensions == []
    finally:
        await conn.close()


async def test_the_embedded_default_runs_the_whole_loop(tmp_path):
    """Nothing set: SQLite, in-memory channel layer, tasks in-process, one process."""
    env, seeded = embedded(tmp_path)
    python = sys.executable
    assert (tmp_path / "helpdesk.sqlite3").exists()
    password = re.search(r"alice\s+(\S+)", seeded).group(1)
    widget_key = re.search(r"widget key (\S+)", seeded).group(1)
    again = subprocess.run(
        [python, "manage.py", "seed_demo"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "nothing seeded" in again

    server = Server(env, tmp_path / "embedded.log").start()
    try:
        for path in (
            "/",
            "/demo/",
            f"/widget/?site_key={widget_key}",
            "/static/helpdesk/embed.js",
            "/admin/login/",
        ):
            with urllib.request.urlopen(server.base + path) as r:
                assert r.status == 200, path
        visitor = await connect(f"{server.ws}/ws/visitor/")
        await visitor.send({"type": "hello", "site_key": widget_key, "token": None, "cursor": None})
        assert (await visitor.expect("welcome"))["agents_online"] is False
        acks = [await visitor.send_message(f"while you were away {i}") for i in range(2)]

        cookie = _login(server.base, "alice", password)
        agent = await connect(
            f"{server.ws}/ws/agent/", Cookie=f"sessionid={cookie}", Origin=server.base
        )
        await agent.expect("inbox")
        flush = await agent.expect("flush", final=True)
        assert [m["id"] for m in flush["messages"]] == [a["message"]["id"] for a in acks]
        assert (await visitor.expect("presence"))["agents_online"] is True

        await agent.send_message(
            "we are back", conversation_id=acks[0]["message"]["conversation_id"]
        )
        frame = await visitor.expect("message")
        while frame["message"]["sender"] != "agent":
            frame = await visitor.expect("message")
        assert frame["message"]["body"] == "we are back"
    finally:
        server.stop()


async def test_the_embedded_default_runs_the_periodic_work_itself(tmp_path):
    """No beat, no broker: an unread message still becomes an email reminder."""
    env, seeded = embedded(
        tmp_path,
        NOTIFY_SCAN_SECONDS="1",
        NOTIFY_AGENT_EMAIL_AFTER_SECONDS="0",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
    )
    python = sys.executable
    widget_key = re.search(r"widget key (\S+)", seeded).group(1)
    assign = (
        "from helpdesk.models import Conversation, Agent;"
        "Conversation.objects.update(assigned_agent=Agent.objects.get(user__username='alice'))"
    )
    server = Server(
        env | {"EMAIL_FILE_PATH": str(tmp_path / "mail")}, tmp_path / "embedded.log"
    ).start()
    try:
        visitor = await connect(f"{server.ws}/ws/visitor/")
        await visitor.send({"type": "hello", "site_key": widget_key, "token": None, "cursor": None})
        await visitor.expect("welcome")
        await visitor.send_message("is anyone there at night?")
        subprocess.run(
            [python, "manage.py", "shell", "-c", assign],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        mailbox = tmp_path / "mail"
        deadline = asyncio.get_running_loop().time() + 20
        while not (mailbox.exists() and any(mailbox.iterdir())):
            assert asyncio.get_running_loop().time() < deadline, (
                tmp_path / "embedded.log"
            ).read_text()[-2000:]
            await asyncio.sleep(0.1)  # the in-process scheduler runs every second
        text = "".join(p.read_text() for p in mailbox.iterdir())
        assert "alice@example.com" in text and "waiting for your reply" in text
    finally:
        server.stop()
