"""The beat schedule, run in-process for the embedded default (no Celery beat, no broker).

Production runs ``celery beat``; the embedded default has one process and no external
server, so the ASGI process runs the same schedule (CELERY_BEAT_SCHEDULE) in a daemon
thread, each task eagerly, one at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)
_started = threading.Event()


def start() -> None:
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_run, name="helpdesk-periodic", daemon=True).start()


def _task(path: str) -> Any:
    """``routing.tasks.route_waiting`` → the task object (this process never autodiscovered)."""
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def _run() -> None:
    beat: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE
    schedule = {name: float(entry["schedule"]) for name, entry in beat.items()}
    tasks = {name: _task(str(beat[name]["task"])) for name in schedule}
    due = {name: time.monotonic() + seconds for name, seconds in schedule.items()}
    while True:
        name = min(due, key=due.get)  # type: ignore[arg-type]
        time.sleep(max(0.0, due[name] - time.monotonic()))
        try:
            tasks[name].apply()
        except Exception:
            log.exception("periodic task %s failed; it runs again next time", name)
        finally:
            close_old_connections()
        due[name] = time.monotonic() + schedule[name]
