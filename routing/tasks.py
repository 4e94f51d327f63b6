"""Routing tasks on the beat: thin, they call services and are safe to run twice."""

from __future__ import annotations

import uuid

from celery import shared_task

from helpdesk import jobs
from helpdesk.models import Agent
from routing import presence, services


@shared_task(acks_late=True)
def route_waiting() -> int:
    """Safety net: every connected, available agent takes eligible waiting work."""
    agents = Agent.objects.filter(status=Agent.Status.AVAILABLE, user__is_active=True)
    taken = 0
    for agent_id in presence.online_agent_ids(agents.values_list("pk", flat=True)):
        ids = services.agent_take_waiting(agent_id=agent_id)
        if ids:
            jobs.enqueue_now(jobs.FLUSH_AGENT, agent_id)
        taken += len(ids)
    return taken


@shared_task(acks_late=True)
def route_conversation(conversation_id: str) -> int | None:
    return services.conversation_route_waiting(conversation_id=uuid.UUID(conversation_id))


@shared_task(acks_late=True)
def requeue_unattended() -> int:
    return services.conversations_requeue_unattended()


@shared_task(acks_late=True)
def overflow() -> int:
    return services.conversations_overflow()
