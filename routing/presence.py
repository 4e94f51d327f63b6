"""Connection presence: who has a live socket right now.

A person (an agent or a visitor) is online while at least one of their sockets has been
seen within ``PRESENCE_TTL_SECONDS``. Each socket is a member of a sorted set scored by its
expiry, so a killed server process cannot leave a ghost: its sockets simply expire. In
production the sets live in Redis and are shared by every process; the embedded default
keeps them in this process's memory.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal, Protocol

import redis
from django.conf import settings

from helpdesk import redis_ha

log = logging.getLogger(__name__)

Kind = Literal["agent", "visitor"]

# KEYS[1] = the person's set. ARGV = now, expiry, member, ttl seconds.
# Returns 1 when this socket made the person go from offline to online.
_CONNECT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
if before == 0 then return 1 else return 0 end
"""
# The socket added as _CONNECT adds it, then whether any of KEYS[2..] (others' sets) has a
# live socket, stopping at the first: a returning visitor's hello learns whether anyone is on
# duty in the same round trip. Returns 1 when someone is.
_CONNECT_SEEING = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
for i = 2, #KEYS do
  if redis.call('ZCOUNT', KEYS[i], '(' .. ARGV[1], '+inf') > 0 then return 1 end
end
return 0
"""
# Returns 1 when removing this socket left the person with none alive.
_DISCONNECT = """
local removed = redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if removed == 1 and redis.call('ZCARD', KEYS[1]) == 0 then return 1 else return 0 end
"""


class PresenceStore(Protocol):
    def connect(self, kind: Kind, ident: str, socket: str) -> bool: ...
    def disconnect(self, kind: Kind, ident: str, socket: str) -> bool: ...
    def online(self, kind: Kind, idents: Iterable[str]) -> set[str]: ...
    def clear(self) -> None: ...


class RedisPresence:
    def __init__(
        self,
        url: str,
        prefix: str,
        ttl: int,
        *,
        sentinels: redis_ha.Sentinels | None = None,
        master: str = "",
        sentinel_password: str = "",
    ) -> None:
        # Short timeouts: a Redis that is down must not hang a message on its way in. With
        # sentinels, a failed connection asks them for the master again (a failover).
        self.client = redis_ha.client(
            url,
            sentinels=sentinels or [],
            master=master,
            sentinel_password=sentinel_password,
            socket_timeout=2,
            socket_connect_timeout=2,
        )
        self.prefix = prefix
        self.ttl = ttl
        self._url, self._sentinels = url, sentinels or []
        self._master, self._sentinel_password = master, sentinel_password
        self._connect = self.client.register_script(_CONNECT)
        self._disconnect = self.client.register_script(_DISCONNECT)

    def _key(self, kind: Kind, ident: str) -> str:
        return f"{self.prefix}:presence:{kind}:{ident}"

    # Redis down or restarting: nobody counts as online, so messages go to the offline store
    # (delivered on the next flush), and sockets are added back on their next ping.
    def connect(self, kind: Kind, ident: str, socket: str) -> bool:
        now = time.time()
        args: list[str | float] = [now, now + self.ttl, socket, self.ttl + 5]
        try:
            return bool(self._connect(keys=[self._key(kind, ident)], args=args))
        except redis.RedisError as exc:
            log.warning("presence: Redis unavailable on connect (%s)", exc)
            return False

    def disconnect(self, kind: Kind, ident: str, socket: str) -> bool:
        keys = [self._key(kind, ident)]
        try:
            return bool(self._disconnect(keys=keys, args=[time.time(), socket]))
        except redis.RedisError as exc:
            log.warning("presence: Redis unavailable on disconnect (%s)", exc)
            return False

    def online(self, kind: Kind, idents: Iterable[str]) -> set[str]:
        idents = list(idents)
        if not idents:
            return set()
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        for ident in idents:
            pipe.zcount(self._key(kind, ident), f"({now}", "+inf")
        counts = pipe.execute()  # a Redis error: the callers below answer "offline"
        return {ident for ident, n in zip(idents, counts, strict=True) if n}

    async def online_one(self, kind: Kind, ident: str) -> bool:
        """``online`` for one person, from an event loop (its own client). Raises
        ``redis.RedisError``."""
        client = redis_ha.loop_client(
            self._url,
            sentinels=self._sentinels,
            master=self._master,
            sentinel_password=self._sentinel_password,
        )
        return bool(await client.zcount(self._key(kind, ident), f"({time.time()}", "+inf"))

    async def connect_seeing(
        self, kind: Kind, ident: str, socket: str, others: Kind, idents: Iterable[str]
    ) -> bool:
        """``connect``, then whether any of ``idents`` (of kind ``others``) is online: one
        round trip, from an event loop (its own client). Raises ``redis.RedisError``."""
        keys = [self._key(kind, ident), *(self._key(others, i) for i in idents)]
        async with _loop_slots():
            now = time.time()
            args: list[str | float] = [now, now + self.ttl, socket, self.ttl + 5]
            script = self._loop_client().register_script(_CONNECT_SEEING)
            return bool(await script(keys=keys, args=args))

    async def disconnect_one(self, kind: Kind, ident: str, socket: str) -> bool:
        """``disconnect``, from an event loop (its own client). Raises ``redis.RedisError``."""
        async with _loop_slots():
            script = self._loop_client().register_script(_DISCONNECT)
            return bool(await script(keys=[self._key(kind, ident)], args=[time.time(), socket]))

    def _loop_client(self) -> redis.asyncio.Redis:
        return redis_ha.loop_client(
            self._url,
            sentinels=self._sentinels,
            master=self._master,
            sentinel_password=self._sentinel_password,
        )

    def clear(self) -> None:
        keys = list(self.client.scan_iter(f"{self.prefix}:presence:*", count=1000))
        if keys:
            self.client.delete(*keys)


class MemoryPresence:
    """The same rules for a single process (the embedded default)."""

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl
        self._sockets: dict[tuple[str, str], dict[str, float]] = {}
        self._lock = threading.Lock()

    def _alive(self, key: tuple[str, str], now: float) -> dict[str, float]:
        sockets = self._sockets.setdefault(key, {})
        for socket in [s for s, exp in sockets.items() if exp <= now]:
            del sockets[socket]
        return sockets

    def connect(self, kind: Kind, ident: str, socket: str) -> bool:
        now = time.time()
        with self._lock:
            sockets = self._alive((kind, ident), now)
            was_offline = not sockets
            sockets[socket] = now + self.ttl
            return was_offline

    def disconnect(self, kind: Kind, ident: str, socket: str) -> bool:
        now = time.time()
        with self._lock:
            sockets = self._alive((kind, ident), now)
            removed = sockets.pop(socket, None) is not None
            return removed and not sockets

    def online(self, kind: Kind, idents: Iterable[str]) -> set[str]:
        now = time.time()
        with self._lock:
            return {i for i in idents if self._alive((kind, i), now)}

    def clear(self) -> None:
        with self._lock:
            self._sockets.clear()


# Presence calls a loop has under way at once: a reconnect storm makes thousands at a time,
# and the loop's client opens a connection for each call that finds none idle (and keeps it).
LOOP_SLOTS = 16
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _loop_slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    found = _slots.get(loop)
    if found is None:
        found = _slots[loop] = asyncio.Semaphore(LOOP_SLOTS)
    return found


@lru_cache(maxsize=1)
def store() -> PresenceStore:
    if settings.REDIS_URL:
        return RedisPresence(
            settings.REDIS_URL,
            settings.CHANNELS_PREFIX,
            settings.PRESENCE_TTL_SECONDS,
            sentinels=settings.REDIS_SENTINELS,
            master=settings.REDIS_SENTINEL_MASTER,
            sentinel_password=settings.REDIS_SENTINEL_PASSWORD,
        )
    return MemoryPresence(settings.PRESENCE_TTL_SECONDS)


def online_agent_ids(agent_ids: Iterable[int]) -> set[int]:
    """Online agents among these; nobody when presence cannot be read (work then waits)."""
    try:
        return {int(i) for i in store().online("agent", (str(a) for a in agent_ids))}
    except redis.RedisError:
        log.warning("presence unavailable; routing nobody for now")
        return set()


def is_online(kind: Kind, ident: str | int) -> bool:
    """Whether someone has a live socket. When presence cannot be read, answer "offline":
    the message then also goes to the offline store, which is the side that loses nothing."""
    try:
        return bool(store().online(kind, [str(ident)]))
    except redis.RedisError:
        log.warning("presence unavailable; treating %s %s as offline", kind, ident)
        return False


async def is_online_from_loop(kind: Kind, ident: str | int) -> bool:
    """``is_online`` for a coroutine: Redis from the loop, no thread; the same answer
    ("offline") when presence cannot be read. The embedded store is in memory: asked as is."""
    found = store()
    if not isinstance(found, RedisPresence):
        return is_online(kind, ident)
    try:
        return await found.online_one(kind, str(ident))
    except redis.RedisError:
        log.warning("presence unavailable; treating %s %s as offline", kind, ident)
        return False


async def connect_seeing_from_loop(
    kind: Kind, ident: str, socket: str, others: Kind, idents: Iterable[str]
) -> bool:
    """A socket connected (``PresenceStore.connect``), and whether any of ``idents`` (of kind
    ``others``) is online, for a coroutine: one round trip from the loop, no thread. Presence
    unavailable: not connected (the next ping adds it), and nobody online (as ``online``'s
    callers answer). The embedded store is in memory: asked as is."""
    found = store()
    if not isinstance(found, RedisPresence):
        found.connect(kind, ident, socket)
        return bool(found.online(others, idents))
    try:
        return await found.connect_seeing(kind, ident, socket, others, idents)
    except redis.RedisError as exc:
        log.warning("presence: Redis unavailable on connect (%s)", exc)
        return False


async def disconnect_from_loop(kind: Kind, ident: str, socket: str) -> None:
    """``PresenceStore.disconnect`` for a coroutine (a visitor's socket closing): Redis from
    the loop, not a trip to the database thread. Presence unavailable: the socket expires."""
    found = store()
    if not isinstance(found, RedisPresence):
        found.disconnect(kind, ident, socket)
        return
    try:
        await found.disconnect_one(kind, ident, socket)
    except redis.RedisError as exc:
        log.warning("presence: Redis unavailable on disconnect (%s)", exc)
