"""Notification tasks: thin; the beat runs the scan, which is idempotent."""

from __future__ import annotations

from celery import shared_task

from notifications import services


@shared_task(acks_late=True)
def scan() -> dict[str, int]:
    return services.scan()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_email(recipient: str) -> int:
    return services.deliver(recipient=recipient)
