"""Trips to the database thread: no health-check query on a connection in use, and a
connection that died is still replaced (docs/performance.md, "The message path")."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError, connection, connections

from helpdesk import dbtrips
from helpdesk.dbtrips import database_trip
from helpdesk.models import Site

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every health check (``SELECT 1``) any thread's connection makes."""
    made: list[int] = []
    cls = type(connections["default"])
    original = cls.is_usable

    def counting(self: Any) -> bool:
        made.append(1)
        return original(self)

    monkeypatch.setattr(cls, "is_usable", counting)
    return made


@pytest.fixture(autouse=True)
async def persistent(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Connections kept between trips, as in production (the test settings close them)."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    await database_trip(close)()
    yield
    await database_trip(close)()


def close() -> None:
    connection.close()


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


async def test_a_connection_in_use_is_not_checked_on_every_trip(checks):
    assert connection.settings_dict["CONN_HEALTH_CHECKS"]
    count = database_trip(Site.objects.count)
    await count()
    before = len(checks)
    for _ in range(5):
        await count()
    assert len(checks) == before
    # Channels' own wrapper checks on every trip: what this saves.
    await database_sync_to_async(Site.objects.count)()
    assert len(checks) == before + 1


async def test_an_idle_connection_is_checked_and_a_dead_one_replaced(checks, monkeypatch):
    await database_trip(Site.objects.count)()
    # Killed from another connection while this one is idle.
    await database_sync_to_async(terminate, thread_sensitive=False)(
        await database_trip(backend_pid)()
    )
    monkeypatch.setattr(dbtrips, "FRESH_SECONDS", 0.0)  # as if idle for a while
    before = len(checks)
    assert await database_trip(Site.objects.count)() == 0  # checked, found dead, reconnected
    assert len(checks) == before + 1


async def test_a_connection_that_died_while_in_use_fails_one_trip_then_is_replaced(checks):
    old = await database_trip(backend_pid)()
    # Killed from another connection between two trips: the next statement finds out.
    await database_sync_to_async(terminate, thread_sensitive=False)(old)
    with pytest.raises(OperationalError):
        await database_trip(Site.objects.count)()
    assert await database_trip(backend_pid)() != old
