"""A few PostgreSQL connections per event loop, for the statements of the hot path
(``helpdesk.services.append``), used from the event loop itself.

Everything else in a process goes through its one database thread (``dbtrips``), where each
trip queues behind every other socket's work: under load a message waited there for the
statements of hundreds of others. Here a message is one statement on a connection of its
own, and up to ``DATABASE_POOL_SIZE`` of them are in flight at once.

The connections are in autocommit: one statement is one transaction. A connection that
fails is dropped (the next use opens another); the statements sent here are idempotent by
client ID, so ``run`` tries once more on a fresh connection when the one it took from the
idle set turns out to be dead (a database restart while it idled).

Behind a transaction pooler (``DATABASE_TRANSACTION_POOLING``), psycopg's server-side
prepared statements are off: the next statement may reach another server connection.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

# Connection settings Django's backend reads that libpq does not know.
_DJANGO_ONLY = {
    "pool",
    "isolation_level",
    "server_side_binding",
    "assume_role",
    "prepare_threshold",
}


def available() -> bool:
    """PostgreSQL is the database: the embedded default (SQLite) keeps the plain path."""
    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


@functools.cache
def conversions() -> Any:
    """The default database's wrapper, for what needs no connection (field conversions, its
    operations), made once per process. Read as ``connections["default"]`` from a coroutine
    it is made anew in every socket's task and kept as long as the socket (2.4 KiB each)."""
    return connections["default"]


def _params() -> dict[str, Any]:
    given: dict[str, Any] = dict(settings.DATABASES["default"])  # the test name too, in tests
    params: dict[str, Any] = {
        k: v for k, v in (given.get("OPTIONS") or {}).items() if k not in _DJANGO_ONLY
    }
    for key, name in (("NAME", "dbname"), ("USER", "user"), ("PASSWORD", "password")):
        if given.get(key):
            params[name] = given[key]
    if given.get("HOST"):
        params["host"] = given["HOST"]
    if given.get("PORT"):
        params["port"] = str(given["PORT"])
    params.setdefault("application_name", "helpdesk-hot-path")
    return params


class Pool:
    """At most ``size`` connections, opened when first needed and kept while they work."""

    def __init__(self, size: int) -> None:
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._open: set[psycopg.AsyncConnection[Any]] = set()
        self._slots = asyncio.Semaphore(size)
        self._params = _params()
        self._prepare = None if getattr(settings, "DATABASE_TRANSACTION_POOLING", False) else 5

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(autocommit=True, **self._params)
        conn.prepare_threshold = self._prepare
        self._open.add(conn)
        return conn

    async def _drop(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._open.discard(conn)
        with suppress(Exception):
            await conn.close()

    async def run(self, sql: str, params: dict[str, Any] | Sequence[Any]) -> list[tuple[Any, ...]]:
        """Execute one statement; its rows. Raises what psycopg raises (the caller's client
        reconnects and resends: idempotent by client ID)."""
        async with self._slots:
            for attempt in (1, 2):
                reused = bool(self._idle)
                conn = self._idle.pop() if reused else await self._connect()
                try:
                    cursor = await conn.execute(sql, params)
                    rows = await cursor.fetchall() if cursor.description else []
                except psycopg.OperationalError:
                    await self._drop(conn)
                    if reused and attempt == 1:
                        log.info("hot path: a pooled connection had died; trying a fresh one")
                        continue
                    raise
                except BaseException:
                    await self._drop(conn)
                    raise
                self._idle.append(conn)
                return rows
        raise AssertionError("unreachable")

    def close_now(self) -> None:
        """Close every connection without the loop (it may be gone): a test's teardown."""
        for conn in list(self._open):
            with suppress(Exception):
                conn.pgconn.finish()
        self._open.clear()
        self._idle.clear()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Pool] = weakref.WeakKeyDictionary()
_made: list[Pool] = []  # held until closed, even when their loop is gone (tests make many)


def pool() -> Pool:
    """This event loop's pool (connections can't be shared between loops)."""
    loop = asyncio.get_running_loop()
    found = _pools.get(loop)
    if found is None:
        found = _pools[loop] = Pool(settings.DATABASE_POOL_SIZE)
        _made.append(found)
    return found


def close_all() -> None:
    """Close every loop's connections (tests, before their database is dropped)."""
    for found in _made:
        found.close_now()
    _made.clear()
    _pools.clear()
