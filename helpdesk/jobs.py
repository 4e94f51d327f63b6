"""The one door background jobs leave by: enqueued by name, after commit.

As ``helpdesk.events`` sends every realtime event, this module enqueues every Celery task.
A lower layer that needs work done asks for the job by its name; it never imports the task
(tasks sit at the top, beside consumers and views, and import the services they run).

Jobs are idempotent (``acks_late``), so a job enqueued twice does no harm; one enqueued and
then rolled back never leaves: the enqueue waits for the commit. ``robust``: a broker that is
down when the transaction commits is logged, never raised into the caller, whose write has
already committed (the sweeps on the beat pick the work up).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from helpdesk.celery import app

log = logging.getLogger(__name__)

# Every job by name, so a typo fails loudly here rather than in a worker's log.
FLUSH_AGENT = "offline.tasks.flush_agent"
ROUTE_CONVERSATION = "routing.tasks.route_conversation"
DELIVER_NOTIFICATION = "notifications.tasks.deliver"
JOBS = frozenset({FLUSH_AGENT, ROUTE_CONVERSATION, DELIVER_NOTIFICATION})


def enqueue_on_commit(name: str, *args: Any, countdown: float | None = None) -> None:
    """Enqueue job ``name`` with ``args`` once the current transaction commits (at once
    outside one)."""
    if name not in JOBS:
        raise ValueError(f"unknown job {name!r}")
    transaction.on_commit(lambda: enqueue_now(name, *args, countdown=countdown), robust=True)


def enqueue_now(name: str, *args: Any, countdown: float | None = None) -> None:
    """Enqueue at once: for callers with nothing to commit (a task fanning out work)."""
    options = {"countdown": countdown} if countdown else {}
    _task(name).apply_async(args=args, **options)


def _task(name: str) -> Any:
    if name not in app.tasks:
        app.loader.import_default_modules()  # imports every app's tasks module, once
    return app.tasks[name]
