"""Trips from the event loop to the database thread, without a health-check query each.

Channels' ``database_sync_to_async`` closes stale connections around every call, and with
``CONN_HEALTH_CHECKS`` that makes Django send ``SELECT 1`` before the first statement of
every trip: on the message path, one PostgreSQL round trip in ten was that check
(docs/performance.md). Here a connection used within ``FRESH_SECONDS`` without an error is
taken as alive; one idle for longer is checked as before. If the server went away in that
second anyway, the trip's statement fails (the client is told to reconnect and resend,
idempotent by client ID), Django marks the connection, and the next trip replaces it.
"""

from __future__ import annotations

import time
from typing import Any

from asgiref.sync import SyncToAsync
from channels.db import DatabaseSyncToAsync
from django.db import close_old_connections, connections

FRESH_SECONDS = 1.0
_USED_AT = "_helpdesk_used_at"


def _trust_recently_used() -> None:
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        used_at = getattr(conn, _USED_AT, None)
        if (
            conn.connection is not None
            and used_at is not None
            and not conn.errors_occurred
            and now - used_at < FRESH_SECONDS
        ):
            conn.health_check_done = True  # type: ignore[attr-defined]  # Django's own flag


def _stamp() -> None:
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.errors_occurred:
            setattr(conn, _USED_AT, now)
        else:
            setattr(conn, _USED_AT, None)


class DatabaseTrip(DatabaseSyncToAsync):
    """``database_sync_to_async``, with the health check skipped on a connection in use."""

    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        _trust_recently_used()
        try:
            return SyncToAsync.thread_handler(self, loop, *args, **kwargs)
        finally:
            _stamp()
            close_old_connections()


database_trip = DatabaseTrip
