"""Structured logs from a real server: JSON lines, each with the request ID (the caller's
X-Request-ID or a fresh one), socket lines with the socket, visitor, agent and conversation
IDs, and never a message body, a visitor token or the tokens of emailed links."""

from __future__ import annotations

import json
import logging
import time
import urllib.request
import uuid
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async
from django.db import connection

from helpdesk.logs import ContextFilter, RedactTokensFilter, bind, start
from tests.processes import Server, database_url_for, server_env
from tests.ws import session_cookie


def test_it_redacts_link_tokens_in_access_lines():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/r/abc.DEF-123/?x=1", "1.1", 200),
        None,
    )
    RedactTokensFilter().filter(record)
    assert record.getMessage() == '1.2.3.4:5 - "GET /r/[redacted]/?x=1 HTTP/1.1" 200'
    assert RedactTokensFilter.redact("GET /v/verify/tok3n/") == "GET /v/verify/[redacted]/"
    assert RedactTokensFilter.redact("/api/v1/visitor/resume") == "/api/v1/visitor/resume"


def test_the_context_reaches_records_and_a_new_unit_of_work_starts_clean():
    start(request_id="r1")
    bind(agent=7, conversation="c0ffee")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hi", None, None)
    ContextFilter().filter(record)
    assert (record.request_id, record.agent, record.conversation) == ("r1", "7", "c0ffee")
    assert record.ids == "request_id=r1 conversation=c0ffee agent=7"
    start(task="t")
    ContextFilter().filter(record)
    assert record.agent is None and record.ids == "task=t"


def lines(log_path) -> list[dict[str, Any]]:
    out = []
    for raw in log_path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            out.append(json.loads(raw))
    return out


def wait_for_line(log_path, what: str, match, seconds: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for line in lines(log_path):
            if match(line):
                return line
        time.sleep(0.1)  # the server writes its log as it goes; bounded by the deadline
    raise AssertionError(f"no log line {what} within {seconds} s; log:\n{log_path.read_text()}")


@pytest.mark.processes
async def test_a_real_server_writes_json_lines_with_ids_and_no_secrets(
    acme, alice, tmp_path, transactional_db
):
    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        CELERY_TASK_ALWAYS_EAGER="true",
        DB_CONN_MAX_AGE="0",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    log_path = tmp_path / "server.log"
    server = Server(env, log_path, log_level="info").start()
    try:
        # HTTP: the caller's request ID is answered and logged; link tokens are not logged.
        request = urllib.request.Request(
            f"{server.base}/healthz", headers={"X-Request-ID": "req-from-proxy-1"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["X-Request-ID"] == "req-from-proxy-1"
        with urllib.request.urlopen(f"{server.base}/healthz", timeout=10) as response:
            fresh = response.headers["X-Request-ID"]
        assert fresh and fresh != "req-from-proxy-1"
        for path in ("/r/SECRETRESUMETOKEN/", "/v/verify/SECRETVERIFYTOKEN/"):
            try:
                urllib.request.urlopen(f"{server.base}{path}", timeout=10)
            except urllib.error.HTTPError as exc:
                assert exc.code == 400  # unknown token: the page says the link expired

        # A visitor writes; the body and the token stay out of the log.
        body = f"my account number is {uuid.uuid4().hex}"
        async with websockets.connect(f"{server.ws}/ws/visitor/") as ws:
            await ws.send(json.dumps({"type": "hello", "site_key": acme.widget_key}))
            welcome = json.loads(await ws.recv())
            assert welcome["type"] == "welcome"
            await ws.send(
                json.dumps({"type": "message.send", "client_id": str(uuid.uuid4()), "body": body})
            )
            while (ack := json.loads(await ws.recv()))["type"] != "message.ack":
                if ack["type"] == "welcome":
                    welcome = ack  # the first write's: it names the visitor it made
        cookie = await database_sync_to_async(session_cookie)(alice.user)
        async with websockets.connect(
            f"{server.ws}/ws/agent/",
            additional_headers={
                "Cookie": f"sessionid={cookie}",
                "Origin": server.base,
                "X-Request-ID": "agent-socket-1",
            },
        ) as ws:
            # Closed as soon as the inbox is in: her flush may still be on its way, and a
            # consumer whose send fails then never runs its disconnect handler; the line
            # is written around it all the same.
            while json.loads(await ws.recv())["type"] != "inbox":
                pass

        access = wait_for_line(
            log_path,
            "for the proxied request",
            lambda line: (
                line.get("logger") == "uvicorn.access"
                and line.get("request_id") == "req-from-proxy-1"
            ),
        )
        assert "/healthz" in access["message"] and {"time", "level"} <= set(access)
        wait_for_line(
            log_path,
            "for the redacted resume link",
            lambda line: "/r/[redacted]/" in line.get("message", ""),
        )
        visitor_closed = wait_for_line(
            log_path,
            "for the visitor's socket closing",
            lambda line: line.get("logger") == "helpdesk.sockets" and "visitor" in line,
        )
        assert visitor_closed["visitor"] == welcome["visitor_id"]
        assert visitor_closed["conversation"] == ack["message"]["conversation_id"]
        assert visitor_closed["socket"].startswith("visitor-") and visitor_closed["request_id"]
        agent_closed = wait_for_line(
            log_path,
            "for the agent's socket closing",
            lambda line: line.get("logger") == "helpdesk.sockets" and "agent" in line,
        )
        assert agent_closed["agent"] == str(alice.id)
        assert agent_closed["request_id"] == "agent-socket-1"
        assert agent_closed["socket"].startswith("agent-")
    finally:
        server.stop()
    text = log_path.read_text(errors="replace")
    for secret in (body, welcome["token"], "SECRETRESUMETOKEN", "SECRETVERIFYTOKEN", cookie):
        assert secret not in text
    assert all(raw.startswith("{") for raw in text.splitlines() if raw.strip()), text[-2000:]
