"""Flush on login through a real Celery worker on the Redis broker."""

from __future__ import annotations

import gc
import uuid

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from channels.db import database_sync_to_async

from helpdesk.celery import app
from offline.models import OfflineMessage
from tests.ws import agent_socket, send_message, visitor_socket


@pytest.fixture
def celery_worker(settings):
    """A worker thread consuming a queue of this test's own, with tasks no longer eager."""
    queue = f"test-{uuid.uuid4().hex}"
    old = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    with start_worker(
        app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=10
    ):
        yield
    app.conf.task_always_eager, app.conf.task_default_queue = old


@pytest.mark.django_db(transaction=True)
async def test_the_worker_assigns_and_pushes_offline_messages_on_login(acme, alice, celery_worker):
    visitor, _ = await visitor_socket(acme.widget_key)
    acks = [await send_message(visitor, f"night message {i}") for i in range(5)]
    await visitor.close()

    agent, inbox = await agent_socket(alice.user)
    assert inbox["conversations"] == []  # not yet assigned: the worker does that
    frames = await agent.flush_frames()

    assert [m["id"] for f in frames for m in f["messages"]] == [a["message"]["id"] for a in acks]
    assert frames[0]["conversations"][0]["assigned_agent_id"] == alice.id
    assert not await database_sync_to_async(OfflineMessage.objects.filter(state="pending").exists)()
    await agent.close()


@pytest.mark.parametrize("ready", [signals.worker_process_init, signals.worker_ready])
def test_a_worker_process_moves_what_it_has_loaded_out_of_the_collectors_way(ready):
    """A flush's 100,000 short-lived objects made collections that scanned the whole loaded
    heap (helpdesk/celery.py): a prefork pool's processes and a solo worker freeze it."""
    gc.unfreeze()
    try:
        ready.send(sender=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
