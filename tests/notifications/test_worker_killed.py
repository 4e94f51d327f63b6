"""A worker killed with SIGKILL in the middle of sending: the recipient still gets exactly one
email. The SMTP server on loopback holds the first message unanswered (the provider has not
accepted it) while the test kills the worker's pool process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
import uuid
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.utils import timezone

from helpdesk.celery import app
from notifications.models import Notification
from notifications.tasks import deliver
from tests.factories import ConversationFactory, VisitorFactory
from tests.processes import celery_worker, database_url_for, free_port, server_env

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


class Provider:
    """Accepts messages, except that it stalls on the first one until released (and then
    refuses it, as the client is gone)."""

    def __init__(self) -> None:
        self.accepted: list[bytes] = []
        self.stalled = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        if not self.stalled.is_set():
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 client went away"
        self.accepted.append(envelope.content)
        return "250 OK"


def wait_for(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)  # polling the event, bounded by the deadline


def test_a_worker_killed_mid_send_leaves_exactly_one_email(acme, alice, tmp_path):
    provider = Provider()
    smtp = Controller(provider, hostname="127.0.0.1", port=free_port())
    smtp.start()
    queue = f"killed-{uuid.uuid4().hex}"
    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        CELERY_TASK_ALWAYS_EAGER="false",
        DB_CONN_MAX_AGE="0",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        NOTIFY_SENDING_TIMEOUT_SECONDS="1",
    )
    worker = celery_worker(
        env,
        tmp_path / "worker.log",
        *("-Q", queue, "--concurrency=1", "--loglevel=INFO", f"--hostname=killed-{queue}@%h"),
    )
    old = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        conv = ConversationFactory(visitor=VisitorFactory(site=acme))  # waiting: escalation holds
        recipient = f"agent:{alice.id}"
        row = Notification.objects.create(
            recipient=recipient,
            address=alice.user.email,
            reason="escalation",
            channel="email",
            conversation=conv,
            level=1,
        )
        deliver.apply_async(args=[recipient], queue=queue)
        wait_for(provider.stalled.is_set)  # the email is on the wire, not yet accepted
        children = subprocess.run(
            ["pgrep", "-P", str(worker.pid)], capture_output=True, text=True
        ).stdout.split()
        assert children, (tmp_path / "worker.log").read_text()
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)
        provider.release.set()
        row.refresh_from_db()
        assert row.status == "sending" and row.provider_message_id  # committed before the send

        # The task is redelivered to a fresh pool process; once the send is past the timeout
        # the next delivery (the beat's scan, here called directly) sends it again as it was.
        stale_from = row.sending_at + timedelta(seconds=1)  # NOTIFY_SENDING_TIMEOUT_SECONDS
        wait_for(lambda: timezone.now() > stale_from)
        deliver.apply_async(args=[recipient], queue=queue)
        wait_for(lambda: provider.accepted)
        wait_for(lambda: Notification.objects.get(pk=row.pk).status == "sent")
    finally:
        app.conf.task_always_eager = old
        worker.terminate()
        worker.wait(15)
        smtp.stop()

    [email] = provider.accepted
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2
    assert f"Message-ID: {row.provider_message_id}".encode() in email
