"""Who could take a site's conversations right now."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db.models import Count

from helpdesk.models import Agent, Conversation, Site
from routing import presence


def online_candidates(site_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[int]]:
    """For each site: the online agents of its default group (two queries, one Redis trip)."""
    members: dict[uuid.UUID, list[int]] = {}
    rows = Agent.objects.filter(
        groups__default_for_sites__in=list(site_ids), user__is_active=True
    ).values_list("groups__default_for_sites", "pk")
    for site_id, agent_id in rows:
        members.setdefault(site_id, []).append(agent_id)
    online = presence.online_agent_ids({a for ids in members.values() for a in ids})
    return {site: sorted(a for a in ids if a in online) for site, ids in members.items()}


def open_loads(agent_ids: Iterable[int]) -> dict[int, int]:
    """Open conversations per agent."""
    ids = list(agent_ids)
    loads = dict.fromkeys(ids, 0)
    rows = (
        Conversation.objects.filter(assigned_agent__in=ids, status=Conversation.Status.OPEN)
        .values("assigned_agent")
        .annotate(n=Count("pk"))
        .values_list("assigned_agent", "n")
    )
    loads.update(dict(rows))
    return loads


def sites_served_by(agent_id: int) -> list[uuid.UUID]:
    return list(Site.objects.filter(default_group__agents=agent_id).values_list("pk", flat=True))


def site_has_online_agent(site_id: uuid.UUID) -> bool:
    return bool(online_candidates([site_id]).get(site_id))
