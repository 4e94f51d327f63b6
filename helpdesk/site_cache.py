"""The site a hello names by its widget key, kept in this process for ``SITE_CACHE_SECONDS``.

Every hello reads its site (the origins it allows, the secret that proves a signed-in user,
what the welcome shows); after a deploy every widget says hello again within seconds, for a
handful of sites. Here a site is read once per process and widget key, from the event loop
(``helpdesk.pgpool``), by the first hello that needs it while the others wait for that read,
and read again once ``SITE_CACHE_SECONDS`` have passed.

The copy is what a returning visitor's hello checks before its statement
(``services.resume``), and that statement writes nothing unless the site still has the same
key, allowed origins and identity secret (it then drops the copy, and the socket's full path
answers from the site as stored): an origin removed from the list, or a rotated secret, is
refused from the next hello on, whatever this copy says. The welcome shows the site as that
statement read it. A copy that refuses an origin since allowed sends the hello down the full
path, which reads the site as stored; a key that names no site is not kept.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from functools import cache

from helpdesk import pgpool, rows
from helpdesk.models import Site

SITE_CACHE_SECONDS = 10.0

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
    if kept is not None and time.monotonic() - kept[0] < SITE_CACHE_SECONDS:
        return kept[1]
    reading = _reading.setdefault(asyncio.get_running_loop(), {})
    pending = reading.get(widget_key)
    if pending is None:  # the first hello to miss reads it; the others wait for that read
        pending = reading[widget_key] = asyncio.ensure_future(_read(widget_key))
        pending.add_done_callback(lambda _: reading.pop(widget_key, None))
    return await asyncio.shield(pending)


async def _read(widget_key: str) -> Site | None:
    started = time.monotonic()
    found = await pgpool.pool().run(_statement(), [widget_key])
    if not found:
        _kept.pop(widget_key, None)
        return None
    site = rows.instance(Site, found[0])
    _kept[widget_key] = (started, site)
    return site


def forget(widget_key: str | None = None) -> None:
    """Drop the site of ``widget_key`` (it changed: the next hello reads it again), or every
    kept site."""
    if widget_key is None:
        _kept.clear()
    else:
        _kept.pop(widget_key, None)
