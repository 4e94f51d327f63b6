"""The site a hello names by its widget key, kept in this process for ``SITE_CACHE_SECONDS``.

Every hello reads its site (the origins it allows, what the welcome shows, the secret that
proves a signed-in user); after a deploy every widget says hello again within seconds, for a
handful of sites. Here a site is read once per process and widget key, from the event loop
(``helpdesk.pgpool``), by the first hello that needs it, while the others wait for that
read; it is read again once ``SITE_CACHE_SECONDS`` have passed.

So a change to a site reaches hellos within ``SITE_CACHE_SECONDS``: an origin removed from
its allowed list is refused from then on, a new greeting shown. A key that names no site is
not kept (a site just made works at once), and the socket's full path reads the site again
whenever this copy refuses a hello (an origin just allowed works at once too).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from functools import cache

from helpdesk import pgpool, rows
from helpdesk.models import Site

SITE_CACHE_SECONDS = 10.0
_now = time.monotonic  # the clock the bound is counted on (tests move it)

_kept: dict[str, tuple[float, Site]] = {}  # widget key → (read at, monotonic), site
_reading: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, asyncio.Future[Site | None]]
] = weakref.WeakKeyDictionary()


@cache
def _statement() -> str:
    return f"SELECT {rows.columns(Site, 's')} FROM {Site._meta.db_table} s WHERE s.widget_key = %s"  # noqa: S608


async def site_by_key(widget_key: str) -> Site | None:
    """The site, as read at most ``SITE_CACHE_SECONDS`` ago; None: no site has this key.
    PostgreSQL only (``pgpool.available()``). Raises what psycopg raises."""
    kept = _kept.get(widget_key)
    if kept is not None and _now() - kept[0] < SITE_CACHE_SECONDS:
        return kept[1]
    reading = _reading.setdefault(asyncio.get_running_loop(), {})
    pending = reading.get(widget_key)
    if pending is None:  # the first hello to miss reads it; the others wait for that read
        pending = reading[widget_key] = asyncio.ensure_future(_read(widget_key))
        pending.add_done_callback(lambda _: reading.pop(widget_key, None))
    return await asyncio.shield(pending)


async def _read(widget_key: str) -> Site | None:
    started = _now()
    found = await pgpool.pool().run(_statement(), [widget_key])
    if not found:
        _kept.pop(widget_key, None)
        return None
    site = rows.instance(Site, found[0])
    _kept[widget_key] = (started, site)
    return site


def forget() -> None:
    """Drop every kept site (tests)."""
    _kept.clear()
