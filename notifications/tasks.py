"""Notification tasks: thin. The beat runs the scan, which is idempotent; the scan enqueues
one delivery per recipient and channel, which is idempotent too (rows are claimed with SKIP
LOCKED and marked sent)."""

from __future__ import annotations

from celery import shared_task

from notifications import services


@shared_task(acks_late=True)
def scan() -> dict[str, int]:
    return services.scan()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver(recipient: str, channel: str = "email") -> int:
    return services.deliver(recipient=recipient, channel=channel)
