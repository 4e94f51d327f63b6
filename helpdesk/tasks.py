"""Conversation tasks on the beat: thin, they call services and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from helpdesk import services


@shared_task(acks_late=True)
def wake_snoozed() -> int:
    """Snoozes that have run out come back as unread."""
    return services.conversations_wake()
