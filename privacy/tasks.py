"""Privacy tasks: thin. The beat runs the prune once a day; it is idempotent (what is gone
stays gone, a run that stops half way leaves whole batches)."""

from __future__ import annotations

from celery import shared_task

from privacy import services


@shared_task(acks_late=True)
def prune() -> dict[str, int]:
    return dict(services.retention_prune())
