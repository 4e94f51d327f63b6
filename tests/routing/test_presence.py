"""Presence: online while one socket lives; a dead process's sockets expire."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from routing.presence import MemoryPresence, RedisPresence


@pytest.fixture(params=["redis", "memory"])
def store(request):
    ttl = 1
    if request.param == "redis":
        s = RedisPresence(settings.REDIS_URL, f"{settings.CHANNELS_PREFIX}-presence-test", ttl)
    else:
        s = MemoryPresence(ttl)
    s.clear()
    yield s
    s.clear()


def test_it_reports_the_first_and_the_last_socket(store):
    assert store.connect("agent", "1", "tab-a") is True
    assert store.connect("agent", "1", "tab-b") is False
    assert store.online("agent", ["1", "2"]) == {"1"}
    assert store.disconnect("agent", "1", "tab-a") is False
    assert store.disconnect("agent", "1", "tab-b") is True
    assert store.online("agent", ["1"]) == set()
    assert store.disconnect("agent", "1", "tab-b") is False  # twice is harmless


def test_it_forgets_sockets_that_stop_heartbeating(store):
    store.connect("agent", "1", "socket-of-a-killed-process")
    assert store.online("agent", ["1"]) == {"1"}
    deadline = time.monotonic() + 5
    while store.online("agent", ["1"]) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the expiry itself, bounded
    assert store.online("agent", ["1"]) == set()
    # Coming back after expiry is a fresh login.
    assert store.connect("agent", "1", "new-socket") is True


def test_a_heartbeat_keeps_a_socket_alive(store):
    store.connect("visitor", "v", "s")
    for _ in range(4):
        time.sleep(0.4)
        assert store.connect("visitor", "v", "s") is False  # the heartbeat
    assert store.online("visitor", ["v"]) == {"v"}
