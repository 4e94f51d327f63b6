"""Rate limits: fixed windows counted in the cache (Redis in production, so every process
shares them; memory in the embedded default).

A limit is ``<count>/<seconds>`` from settings (``RATE_LIMITS``). ``hit`` counts one event and
says how long to wait when the limit is passed; nothing else is slowed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from helpdesk import metrics, redis_ha

log = logging.getLogger(__name__)


class RateLimited(Exception):
    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(f"Too many {what}; try again in {retry_after} s.")
        self.retry_after = retry_after


def _limit(name: str) -> tuple[int, int]:
    count, _, seconds = settings.RATE_LIMITS[name].partition("/")
    return int(count), int(seconds)


def hit(name: str, key: str, *, what: str) -> None:
    """Count one ``name`` event for ``key``; raise ``RateLimited`` past the limit."""
    window = _window(name, key)
    if window is None:
        return  # 0: no limit
    try:
        n = _count(window.cache_key, window.seconds + 1)
    except Exception as exc:  # the cache (Redis) is down: let people through, say so
        log.warning("rate limit %s not counted: %s", name, exc)
        return
    window.judge(n, what)


async def hit_from_loop(name: str, key: str, *, what: str) -> None:
    """``hit`` for a coroutine: on Redis, one MULTI from the loop's own client (no thread);
    other caches are in memory and counted as ``hit`` counts."""
    backend = caches["default"]
    window = _window(name, key)
    if window is None:
        return
    if not isinstance(backend, RedisCache):
        hit(name, key, what=what)
        return
    redis_key = backend.make_and_validate_key(window.cache_key)
    client = redis_ha.loop_client(
        settings.REDIS_URL,
        sentinels=settings.REDIS_SENTINELS,
        master=settings.REDIS_SENTINEL_MASTER,
        sentinel_password=settings.REDIS_SENTINEL_PASSWORD,
    )
    try:
        pipe = client.pipeline(transaction=True)
        pipe.set(redis_key, 0, ex=window.seconds + 1, nx=True)
        pipe.incr(redis_key)
        n = int((await pipe.execute())[1])
    except Exception as exc:  # as ``hit``: Redis down lets people through
        log.warning("rate limit %s not counted: %s", name, exc)
        return
    window.judge(n, what)


@dataclass(frozen=True)
class _Window:
    name: str
    count: int
    seconds: int
    now: float
    cache_key: str

    def judge(self, n: int, what: str) -> None:
        if n > self.count:
            metrics.rate_limited(self.name)
            raise RateLimited(what, max(1, int(self.seconds - self.now % self.seconds)))


def _window(name: str, key: str) -> _Window | None:
    """The fixed window ``key`` is counted in now; None when ``name`` has no limit."""
    count, seconds = _limit(name)
    if count <= 0:
        return None
    now = time.time()
    return _Window(name, count, seconds, now, f"rl:{name}:{key}:{int(now // seconds)}")


def _count(cache_key: str, timeout: int) -> int:
    """Add one to the window's count and return it. On Redis one round trip (a MULTI of
    SET NX EX and INCR; Django's add and incr take three); other caches: add, then incr."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):  # Sentinel's too
        redis_key = backend.make_and_validate_key(cache_key)
        client = backend._cache.get_client(redis_key, write=True)
        pipe = client.pipeline(transaction=True)
        pipe.set(redis_key, 0, ex=timeout, nx=True)
        pipe.incr(redis_key)
        return int(pipe.execute()[1])
    cache.add(cache_key, 0, timeout=timeout)
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=timeout)
        return 1


def blocked(name: str, key: str) -> int:
    """Seconds until ``key`` may try ``name`` again (0: now), without counting anything."""
    count, seconds = _limit(name)
    if count <= 0:
        return 0
    now = time.time()
    try:
        n = cache.get(f"rl:{name}:{key}:{int(now // seconds)}", 0)
    except Exception as exc:
        log.warning("rate limit %s not read: %s", name, exc)
        return 0
    if n < count:
        return 0
    metrics.rate_limited(name)
    return max(1, int(seconds - now % seconds))
