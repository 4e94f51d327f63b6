"""Real server processes for tests: uvicorn on a free port, stopped at the end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# How every uvicorn of ours speaks WebSocket, as scripts/run.sh and docs/deployment.md start it:
# websockets' sans-I/O implementation, permessage-deflate declined (docs/performance.md,
# "Memory per socket with compression offered").
WS_OPTIONS = ("--ws", "websockets-sansio", "--ws-per-message-deflate", "false")


def stop(proc: subprocess.Popen[Any] | None) -> None:
    """End a process of ours: asked first, killed after 10 s."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url_for(name: str) -> str:
    """The suite's DATABASE_URL, pointed at pytest-django's test database."""
    url = urllib.parse.urlparse(os.environ["DATABASE_URL"])
    return url._replace(path=f"/{name}").geturl()


class Server:
    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        app: str = "helpdesk.asgi:application",
        workers: int = 1,
        log_level: str = "warning",
        ws_options: Sequence[str] = WS_OPTIONS,
    ) -> None:
        self.app, self.workers, self.log_level = app, workers, log_level
        self.ws_options = tuple(ws_options)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        cmd = [
            str(VENV_BIN / "uvicorn"),
            self.app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            self.log_level,
            *self.ws_options,
            *(["--workers", str(self.workers)] if self.workers > 1 else []),
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)  # the server is not listening yet; bounded by the deadline
        raise TimeoutError(f"server not ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        stop(self.proc)

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://")


def celery_worker(env: dict[str, str], log: Path, *options: str) -> subprocess.Popen[bytes]:
    """A real Celery worker process of the project (``options``: -Q, --concurrency,
    --hostname…), its output in ``log``."""
    return subprocess.Popen(
        [str(VENV_BIN / "celery"), "-A", "helpdesk", "worker", *options],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def server_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(overrides)
    return env


class Client:
    """A WebSocket client that keeps frames and waits for the one it wants."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def send(self, frame: dict[str, Any]) -> None:
        await self.conn.send(json.dumps(frame))

    async def expect(self, type_: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        import asyncio

        async with asyncio.timeout(timeout):
            while True:
                frame = json.loads(await self.conn.recv())
                if frame["type"] == type_ and all(frame.get(k) == v for k, v in match.items()):
                    return frame

    async def send_message(self, body: str, **extra: Any) -> dict[str, Any]:
        client_id = str(uuid.uuid4())
        await self.send({"type": "message.send", "client_id": client_id, "body": body, **extra})
        return await self.expect("message.ack", client_id=client_id)


async def connect(url: str, **headers: str) -> Client:
    return Client(await websockets.connect(url, additional_headers=headers))
