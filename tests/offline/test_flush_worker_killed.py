"""The Celery worker killed (SIGKILL) in the middle of a flush on login: the task is
redelivered, no message reaches the agent twice, and after a reconnect the agent's inbox
holds every message (what the lost frames carried is read back from the database)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import uuid

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from helpdesk import services
from helpdesk.celery import app
from helpdesk.models import Conversation, Message
from tests.factories import VisitorFactory
from tests.processes import celery_worker, database_url_for, server_env
from tests.ws import agent_socket

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def night(acme):
    """20 visitors wrote 15 messages each while nobody was online."""
    for v in range(20):
        visitor = VisitorFactory(site=acme, name=f"Night owl {v}")
        for i in range(15):
            services.message_send_by_visitor(
                visitor=visitor, client_id=uuid.uuid4(), body=f"owl {v} line {i}"
            )


async def test_a_worker_killed_mid_flush_shows_nothing_twice_and_loses_nothing(
    night, alice, tmp_path
):
    queue = f"flush-{uuid.uuid4().hex}"
    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        CELERY_TASK_ALWAYS_EAGER="false",
        DB_CONN_MAX_AGE="0",
        # One message per claim and per frame: 300 transactions one after another, so the
        # flush is still under way when its first frame has reached the agent.
        OFFLINE_FLUSH_BATCH="1",
        OFFLINE_FLUSH_CHUNK="1",
    )
    log = tmp_path / "worker.log"
    worker = celery_worker(
        env, log, "-Q", queue, "--concurrency=1", "--loglevel=INFO", f"--hostname=flush-{queue}@%h"
    )
    old = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager, app.conf.task_default_queue = False, queue
    try:
        # The worker's pool process, found before the flush starts: the kill follows the
        # first frame with nothing in between.
        deadline = asyncio.get_running_loop().time() + 30
        while not (
            pool := subprocess.run(
                ["pgrep", "-P", str(worker.pid)], capture_output=True, text=True
            ).stdout.split()
        ):
            assert asyncio.get_running_loop().time() < deadline, log.read_text()
            await asyncio.sleep(0.1)  # polling for the pool process, bounded by the deadline
        agent, _ = await agent_socket(alice.user)  # first socket: the flush task is queued
        first = await agent.expect("flush", timeout=60)
        for pid in pool:
            os.kill(int(pid), signal.SIGKILL)  # mid-flush: frame 1 of many is out
        assert not first["final"]
        seen = [m["id"] for m in first["messages"]]
        # Whatever else arrives (frames sent before the kill, the redelivered task's own
        # final frame): collect it until the agent has been quiet.
        while not await agent.nothing(timeout=3):
            frame = await agent.recv()
            if frame["type"] == "flush":
                seen += [m["id"] for m in frame["messages"]]
        assert len(seen) == len(set(seen)), "a message reached the agent twice"
        # Redelivered to a fresh pool process (acks_late, reject_on_worker_lost).
        deadline = asyncio.get_running_loop().time() + 30
        while len(re.findall(r"flush_agent\[[0-9a-f-]+\] received", log.read_text())) < 2:
            assert asyncio.get_running_loop().time() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.1)  # polling the worker's log, bounded by the deadline
        await agent.close()

        # A reconnect: the inbox and each conversation's history, as the page loads them.
        again, inbox = await agent_socket(alice.user)
        held: set[str] = set(seen)
        for summary in inbox["conversations"]:
            await again.send(
                {"type": "conversation.open", "conversation_id": summary["id"], "after_seq": 0}
            )
            history = await again.expect("history")
            held |= {m["id"] for m in history["messages"] if m["sender"] == "visitor"}
        await again.close()
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = old
        worker.terminate()
        worker.wait(15)

    every = await database_sync_to_async(
        lambda: {
            str(pk) for pk in Message.objects.filter(sender="visitor").values_list("pk", flat=True)
        }
    )()
    assert len(every) == 300 and held >= every
    assigned = await database_sync_to_async(
        Conversation.objects.filter(assigned_agent=alice).count
    )()
    assert assigned == 20
