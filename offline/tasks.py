"""Offline tasks: thin, take IDs, call services; safe to run twice (acks_late)."""

from __future__ import annotations

from celery import shared_task

from offline import services


@shared_task(acks_late=True)
def flush_agent(agent_id: int) -> int:
    return services.offline_flush_for_agent(agent_id=agent_id).delivered
