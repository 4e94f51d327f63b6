"""Fixtures of the socket tests: what a frame costs, counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio.connection
from django.db.backends.utils import CursorWrapper

from helpdesk import pgpool


class Statements:
    """Statements sent, by way: the process's database thread (Django) and the hot path."""

    def __init__(self) -> None:
        self.django: list[str] = []
        self.hot: list[str] = []
        self.redis: list[bytes] = []  # packets the loop's Redis clients sent (a MULTI is one)

    def reset(self) -> None:
        self.django.clear()
        self.hot.clear()
        self.redis.clear()

    def redis_commands(self) -> list[bytes]:
        """Packets other than the channel layer's (its PUBLISHes)."""
        return [p for p in self.redis if b"PUBLISH" not in p]


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[Statements]:
    seen = Statements()
    execute, run = CursorWrapper.execute, pgpool.Pool.run

    def counting_execute(self: Any, sql: str, params: Any = None) -> Any:
        seen.django.append(sql)
        return execute(self, sql, params)

    async def counting_run(self: Any, sql: str, params: Any) -> Any:
        seen.hot.append(sql)
        return await run(self, sql, params)

    send = redis.asyncio.connection.AbstractConnection.send_packed_command

    async def counting_send(self: Any, command: Any, check_health: bool = True) -> None:
        seen.redis.append(command if isinstance(command, bytes) else b"".join(command))
        await send(self, command, check_health)

    monkeypatch.setattr(CursorWrapper, "execute", counting_execute)
    monkeypatch.setattr(pgpool.Pool, "run", counting_run)
    monkeypatch.setattr(
        redis.asyncio.connection.AbstractConnection, "send_packed_command", counting_send
    )
    yield seen
