"""Who gets a conversation.

Foundation rule: the online agents of the site's default group, least loaded first (ties to
the lower agent ID). Assignment is a conditional update on rows locked with
``SKIP LOCKED``, so concurrent logins and messages never assign a conversation twice.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from helpdesk import events
from helpdesk.models import Conversation
from routing import selectors

WAITING_BATCH = 1000


def _least_loaded(candidates: list[int], loads: dict[int, int]) -> int:
    return min(candidates, key=lambda a: (loads[a], a))


def conversation_route(*, conversation: Conversation) -> int | None:
    """Assign one waiting conversation, locked by the caller. Returns the agent ID or None."""
    candidates = selectors.online_candidates([conversation.site_id]).get(conversation.site_id)
    if not candidates:
        return None
    agent_id = _least_loaded(candidates, selectors.open_loads(candidates))
    conversation.assigned_agent_id = agent_id
    conversation.assigned_at = timezone.now()
    conversation.save(update_fields=["assigned_agent", "assigned_at"])
    return agent_id


def conversations_assign_waiting(*, site_ids: list[uuid.UUID]) -> dict[int, list[uuid.UUID]]:
    """Hand the waiting conversations of these sites to their online agents, oldest first.

    Returns what each agent received. Runs in batches, each in its own transaction.
    """
    received: dict[int, list[uuid.UUID]] = defaultdict(list)
    while True:
        batch = _assign_batch(site_ids)
        for agent_id, ids in batch.items():
            received[agent_id].extend(ids)
        if sum(len(ids) for ids in batch.values()) < WAITING_BATCH:
            return dict(received)


@transaction.atomic
def _assign_batch(site_ids: list[uuid.UUID]) -> dict[int, list[uuid.UUID]]:
    candidates = {s: c for s, c in selectors.online_candidates(site_ids).items() if c}
    if not candidates:
        return {}
    waiting = list(
        Conversation.objects.select_for_update(skip_locked=True)
        .filter(
            site__in=list(candidates),
            status=Conversation.Status.OPEN,
            assigned_agent__isnull=True,
        )
        .order_by("created_at")
        .values_list("pk", "site_id")[:WAITING_BATCH]
    )
    if not waiting:
        return {}
    loads = selectors.open_loads({a for ids in candidates.values() for a in ids})
    chosen: dict[int, list[uuid.UUID]] = defaultdict(list)
    for conversation_id, site_id in waiting:
        agent_id = _least_loaded(candidates[site_id], loads)
        loads[agent_id] += 1
        chosen[agent_id].append(conversation_id)
    now = timezone.now()
    for agent_id, ids in chosen.items():
        Conversation.objects.filter(pk__in=ids, assigned_agent__isnull=True).update(
            assigned_agent=agent_id, assigned_at=now
        )
    return dict(chosen)


def agent_presence_changed(*, agent_id: int) -> None:
    """Tell the visitors of the agent's sites whether anyone is online now."""
    site_ids = selectors.sites_served_by(agent_id)
    candidates = selectors.online_candidates(site_ids)
    for site_id in site_ids:
        online = bool(candidates.get(site_id))
        events.send_event_now(
            [events.site_group(site_id)], {"type": "presence", "agents_online": online}
        )
