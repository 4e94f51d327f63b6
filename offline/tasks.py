"""Offline tasks: thin, take IDs, call services; safe to run twice (acks_late)."""

from __future__ import annotations

import dataclasses

from celery import shared_task

from offline import services
from routing import services as routing_services


@shared_task(acks_late=True)
def flush_agent(agent_id: int) -> int:
    return take_waiting_and_flush(agent_id=agent_id).delivered


def take_waiting_and_flush(*, agent_id: int) -> services.FlushResult:
    """An agent became available (login, back from away, room freed): they take eligible
    waiting work up to their capacity (routing), then everything waiting for them is pushed
    (the offline store)."""
    taken = routing_services.agent_take_waiting(agent_id=agent_id)
    flushed = services.offline_flush_for_agent(agent_id=agent_id)
    return dataclasses.replace(flushed, assigned=len(taken))
