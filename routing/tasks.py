"""Routing tasks: thin, take IDs, call services."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from helpdesk.models import Site
from routing import services


@shared_task(acks_late=True)
def route_waiting() -> int:
    """Safety net on a beat: hand any waiting conversation to an agent who is online."""
    site_ids = list(Site.objects.values_list("pk", flat=True))
    received = services.conversations_assign_waiting(site_ids=site_ids)
    from offline.tasks import flush_agent

    for agent_id in received:
        transaction.on_commit(lambda a=agent_id: flush_agent.delay(a), robust=True)
    return sum(len(v) for v in received.values())
