"""Redis through Sentinel, configured by REDIS_SENTINELS: what each of the four clients is
given (the failover itself: tests/test_sentinel_failover.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from helpdesk import redis_ha

SENTINELS = [("10.0.0.1", 26379), ("sentinel-b", 26380)]


def test_sentinels_are_host_port_pairs():
    assert redis_ha.parse_sentinels(["10.0.0.1:26379", "sentinel-b:26380"]) == SENTINELS
    assert redis_ha.parse_sentinels(["[::1]:26379"]) == [("::1", 26379)]
    for bad in ("no-port", "host:", ":26379", "host:port"):
        with pytest.raises(ImproperlyConfigured, match="REDIS_SENTINELS"):
            redis_ha.parse_sentinels([bad])


def test_the_url_gives_database_credentials_and_tls_not_the_host():
    assert redis_ha.node_kwargs("redis://mymaster/3") == {"db": 3}
    assert redis_ha.node_kwargs("rediss://app:p%40ss@ignored:1/0") == {
        "db": 0,
        "username": "app",
        "password": "p@ss",
        "ssl": True,
    }


def test_without_sentinels_every_client_uses_the_url():
    url = "redis://redis.internal:6379/0"
    assert redis_ha.channel_layer_host(url, sentinels=[], master="m") == url
    assert redis_ha.celery_broker(url, sentinels=[], master="m") == (url, {})
    client = redis_ha.client(url, sentinels=[], master="m")
    assert client.connection_pool.connection_kwargs["host"] == "redis.internal"


def test_with_sentinels_each_client_asks_them_for_the_master():
    url = "redis://:secret@mymaster/2"
    host = redis_ha.channel_layer_host(url, sentinels=SENTINELS, master="mymaster")
    assert host["master_name"] == "mymaster" and host["sentinels"] == SENTINELS
    assert (host["db"], host["password"]) == (2, "secret")
    broker, options = redis_ha.celery_broker(
        url, sentinels=SENTINELS, master="mymaster", sentinel_password="s3"
    )
    assert broker == "sentinel://:secret@10.0.0.1:26379/2;sentinel://:secret@sentinel-b:26380/2"
    assert options["master_name"] == "mymaster"
    assert options["sentinel_kwargs"]["password"] == "s3"
    client = redis_ha.client(url, sentinels=SENTINELS, master="mymaster", socket_timeout=2)
    pool = client.connection_pool
    assert pool.service_name == "mymaster" and pool.connection_kwargs["db"] == 2
    assert [
        c.connection_pool.connection_kwargs["host"] for c in pool.sentinel_manager.sentinels
    ] == [
        "10.0.0.1",
        "sentinel-b",
    ]
