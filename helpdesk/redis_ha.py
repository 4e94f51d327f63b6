"""Redis for the four jobs it does here (the channel layer, presence, rate limits and the
Celery broker), either one server (``REDIS_URL``) or a master found through Redis Sentinel
(``REDIS_SENTINELS`` and ``REDIS_SENTINEL_MASTER``), so a failed master is replaced without
a restart (docs/deployment.md).

With sentinels, ``REDIS_URL`` still says which database, which password and whether TLS
(``rediss://``); its host and port are not used: each client asks the sentinels where the
master is, and asks again when its connection to it fails.
"""

from __future__ import annotations

import asyncio
import urllib.parse
import weakref
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.core.exceptions import ImproperlyConfigured

Sentinels = list[tuple[str, int]]


def parse_sentinels(items: list[str]) -> Sentinels:
    """``["host:port", …]`` → ``[(host, port), …]``; a bad item stops the process at start."""
    out = []
    for item in items:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ImproperlyConfigured(f"REDIS_SENTINELS: {item!r} is not host:port")
        out.append((host.strip("[]"), int(port)))
    return out


def node_kwargs(url: str) -> dict[str, Any]:
    """What ``url`` says about the data nodes (database, credentials, TLS), not where they are."""
    parts = urllib.parse.urlparse(url)
    kwargs: dict[str, Any] = {"db": int((parts.path or "/0").lstrip("/") or 0)}
    if parts.username:
        kwargs["username"] = urllib.parse.unquote(parts.username)
    if parts.password:
        kwargs["password"] = urllib.parse.unquote(parts.password)
    if parts.scheme == "rediss":
        kwargs["ssl"] = True
    return kwargs


def _sentinel_kwargs(password: str) -> dict[str, Any]:
    # Sentinels answer fast or not at all: a dead one must not hold up finding the master.
    return {"socket_timeout": 0.5, "socket_connect_timeout": 0.5} | (
        {"password": password} if password else {}
    )


def client(
    url: str, *, sentinels: Sentinels, master: str, sentinel_password: str = "", **options: Any
) -> redis.Redis:
    """A synchronous client of the master (``options``: timeouts and the like)."""
    if not sentinels:
        return redis.Redis.from_url(url, **options)
    manager = redis.sentinel.Sentinel(
        sentinels, sentinel_kwargs=_sentinel_kwargs(sentinel_password)
    )
    return manager.master_for(master, redis_class=redis.Redis, **node_kwargs(url), **options)


LOOP_CONNECTIONS = 32


def async_client(
    url: str, *, sentinels: Sentinels, master: str, sentinel_password: str = "", **options: Any
) -> redis.asyncio.Redis:
    """An asyncio client of the master, for one event loop (its connections belong to it).
    At most ``LOOP_CONNECTIONS`` to one server; more callers wait for one (a reconnect storm
    would otherwise open a connection per concurrent command). Through sentinels the pool is
    redis-py's, which has no waiting form."""
    if not sentinels:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url, max_connections=LOOP_CONNECTIONS, timeout=10, **options
        )
        return redis.asyncio.Redis(connection_pool=pool)
    manager = redis.asyncio.sentinel.Sentinel(
        sentinels, sentinel_kwargs=_sentinel_kwargs(sentinel_password)
    )
    return manager.master_for(
        master, redis_class=redis.asyncio.Redis, **node_kwargs(url), **options
    )


_loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
    weakref.WeakKeyDictionary()
)


def loop_client(
    url: str, *, sentinels: Sentinels, master: str, sentinel_password: str = ""
) -> redis.asyncio.Redis:
    """This event loop's asyncio client (the hot path's rate limit and presence reads), with
    the short timeouts the synchronous ones use."""
    loop = asyncio.get_running_loop()
    found = _loop_clients.get(loop)
    if found is None:
        found = _loop_clients[loop] = async_client(
            url,
            sentinels=sentinels,
            master=master,
            sentinel_password=sentinel_password,
            socket_timeout=2,
            socket_connect_timeout=2,
        )
    return found


def channel_layer_host(
    url: str, *, sentinels: Sentinels, master: str, sentinel_password: str = ""
) -> str | dict[str, Any]:
    """An entry of channels-redis's ``hosts``: its Sentinel form (``master_name`` and
    ``sentinels``, read by ``channels_redis.utils.create_pool``) or the URL."""
    if not sentinels:
        return url
    return {
        "master_name": master,
        "sentinels": sentinels,
        "sentinel_kwargs": _sentinel_kwargs(sentinel_password),
        **node_kwargs(url),
    }


def celery_broker(
    url: str, *, sentinels: Sentinels, master: str, sentinel_password: str = ""
) -> tuple[str, dict[str, Any]]:
    """Celery's broker URL and extra transport options: kombu's ``sentinel://`` transport, one
    URL per sentinel joined by ``;``, when there are sentinels."""
    if not sentinels:
        return url, {}
    node = node_kwargs(url)
    auth = ""
    if node.get("password"):
        user = urllib.parse.quote(node.get("username", ""), safe="")
        auth = f"{user}:{urllib.parse.quote(node['password'], safe='')}@"
    urls = ";".join(f"sentinel://{auth}{host}:{port}/{node['db']}" for host, port in sentinels)
    options: dict[str, Any] = {"master_name": master}
    options["sentinel_kwargs"] = _sentinel_kwargs(sentinel_password)
    if node.get("ssl"):
        options["ssl"] = True
    return urls, options


class SentinelCacheClient(RedisCacheClient):
    """Django's Redis cache client, its one pool pointed at the master the sentinels name."""

    def __init__(self, servers: list[str], **options: Any) -> None:
        self._sentinels: Sentinels = options.pop("sentinels")
        self._master: str = options.pop("master_name")
        self._sentinel_password: str = options.pop("sentinel_password", "")
        super().__init__(servers, **options)

    # RedisCacheClient's own state (django-stubs does not declare it).
    _pools: dict[int, Any]
    _pool_options: dict[str, Any]
    _servers: list[str]

    def _get_connection_pool(self, write: bool) -> Any:
        if 0 not in self._pools:
            manager = redis.sentinel.Sentinel(
                self._sentinels, sentinel_kwargs=_sentinel_kwargs(self._sentinel_password)
            )
            kwargs = {**self._pool_options, **node_kwargs(self._servers[0])}
            self._pools[0] = redis.sentinel.SentinelConnectionPool(self._master, manager, **kwargs)
        return self._pools[0]


class SentinelRedisCache(RedisCache):
    """``CACHES`` backend: Django's RedisCache through Sentinel. OPTIONS take ``sentinels``,
    ``master_name`` and ``sentinel_password`` besides the usual connection options; the
    LOCATION URL gives the database, credentials and TLS."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SentinelCacheClient
