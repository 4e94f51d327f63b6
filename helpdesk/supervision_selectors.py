"""Reads of live supervision (helpdesk.supervision): each supervised team's queue, its agents
with their status, load and what they are on, and the conversations at risk. A fixed number
of queries, whatever the queue; scoped by the access rule.

Who supervises what: a group's managers its group; a site's administrators the groups that
serve their site; a superuser every group. Conversations shown are the open ones of those
groups that the person may see (``access.visible``) and oversees.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from helpdesk import access
from helpdesk.access import Actor
from helpdesk.models import Agent, AgentGroup, Conversation
from helpdesk.payloads import iso
from notifications.models import Notification
from routing import presence
from routing import selectors as routing_selectors

# At most this many waiting conversations per team are listed (all are counted).
QUEUE_SHOWN = 50


def supervised_groups(actor: Actor) -> QuerySet[AgentGroup]:
    if actor.superuser:
        return AgentGroup.objects.all()
    match = Q(pk__in=sorted(actor.manages))
    if actor.administers:
        sites = sorted(actor.administers)
        match |= Q(default_for_sites__in=sites) | Q(rules__site__in=sites)
    return AgentGroup.objects.filter(match).distinct()


def supervised(actor: Actor, group_ids: list[int]) -> QuerySet[Conversation]:
    """Open conversations of these groups the person sees and oversees."""
    oversees = (
        Q()
        if actor.superuser
        else (Q(group_id__in=sorted(actor.manages)) | Q(site_id__in=sorted(actor.administers)))
    )
    return access.visible(actor).filter(
        oversees, status=Conversation.Status.OPEN, group_id__in=group_ids
    )


def snapshot(actor: Actor, now: datetime | None = None) -> dict[str, Any]:
    """The whole view, as the ``supervision`` frame."""
    now = now or timezone.now()
    groups = list(supervised_groups(actor).order_by("name"))
    ids = [g.pk for g in groups]
    open_ = supervised(actor, ids)
    reminders = Count(
        "notifications", filter=Q(notifications__status=Notification.Status.SENT), distinct=True
    )
    queue_order: list[Any] = [
        F("priority").desc(),
        F("queued_at").asc(nulls_last=True),
        "created_at",
    ]
    waiting = list(
        open_.filter(assigned_agent__isnull=True)
        .select_related("visitor", "site")
        .annotate(
            reminders=reminders,
            place=Window(RowNumber(), partition_by=[F("group_id")], order_by=queue_order),
        )
        .filter(place__lte=QUEUE_SHOWN)
        .order_by("group_id", "place")
    )
    counts = dict(
        open_.filter(assigned_agent__isnull=True)
        .values_list("group_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    members = _members(ids)
    agent_ids = sorted({a.pk for team in members.values() for a in team})
    on = _agents_on(actor, agent_ids)
    online = presence.online_agent_ids(agent_ids)
    loads = routing_selectors.open_loads(agent_ids)
    capacity = routing_selectors.capacities(agent_ids)
    risky = _at_risk(open_, groups, now, reminders)
    pickable = {a.pk: {"id": a.pk, "name": a.display_name} for t in members.values() for a in t}
    if actor.agent_id is not None and actor.agent_id not in pickable:  # to take it over
        me = Agent.objects.filter(pk=actor.agent_id).values("pk", "display_name").first()
        if me:
            pickable[me["pk"]] = {"id": me["pk"], "name": me["display_name"]}
    return {
        "type": "supervision",
        "at": iso(now),
        "me": {"agent_id": actor.agent_id},
        "groups": [
            {
                "id": g.pk,
                "name": g.name,
                "target_seconds": g.wait_target_seconds,
                "waiting_count": counts.get(g.pk, 0),
                "waiting": [_item(c) for c in waiting if c.group_id == g.pk],
                "agents": [
                    {
                        "id": a.pk,
                        "name": a.display_name,
                        "status": a.status,
                        "online": a.pk in online,
                        "load": loads.get(a.pk, 0),
                        "capacity": capacity.get(a.pk, 0),
                        "conversations": on.get(a.pk, []),
                    }
                    for a in members.get(g.pk, [])
                ],
            }
            for g in groups
        ],
        "at_risk": [_item(c, risk=True) for c in risky],
        "targets": {
            "groups": [{"id": g.pk, "name": g.name} for g in AgentGroup.objects.order_by("name")],
            "agents": sorted(pickable.values(), key=lambda a: a["name"]),
        },
    }


def _members(group_ids: list[int]) -> dict[int, list[Agent]]:
    """Active agents of each group (one query)."""
    through = Agent.groups.through
    rows = (
        through.objects.filter(agentgroup_id__in=group_ids, agent__user__is_active=True)
        .select_related("agent")
        .order_by("agent__display_name")
    )
    teams: dict[int, list[Agent]] = {}
    for row in rows:
        teams.setdefault(row.agentgroup_id, []).append(row.agent)
    return teams


def _agents_on(actor: Actor, agent_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """What each agent is on: their open conversations this person may see (one query)."""
    on: dict[int, list[dict[str, Any]]] = {}
    rows = (
        access.visible(actor)
        .filter(status=Conversation.Status.OPEN, assigned_agent_id__in=agent_ids)
        .select_related("visitor")
        .order_by("waiting_since", "last_message_at")
    )
    for c in rows:
        assert c.assigned_agent_id is not None  # filtered on it above
        on.setdefault(c.assigned_agent_id, []).append(
            {
                "id": str(c.pk),
                "visitor": c.visitor.display_name,
                "waiting_since": iso(c.waiting_since),
            }
        )
    return on


def _at_risk(
    open_: QuerySet[Conversation], groups: list[AgentGroup], now: datetime, reminders: Count
) -> list[Conversation]:
    """Waiting for an answer past their team's target, or already escalated or reminded."""
    late = Q(pk__in=[])
    for g in groups:
        late |= Q(group_id=g.pk, waiting_since__lt=now - timedelta(seconds=g.wait_target_seconds))
    return list(
        open_.annotate(reminders=reminders)
        .filter(late | Q(escalation_level__gt=0) | Q(reminders__gt=0))
        .select_related("visitor", "site", "assigned_agent")
        .order_by("waiting_since", "queued_at")[:QUEUE_SHOWN]
    )


def _item(c: Conversation, *, risk: bool = False) -> dict[str, Any]:
    item = {
        "id": str(c.pk),
        "group_id": c.group_id,
        "visitor": c.visitor.display_name,
        "site": c.site.name,
        "channel": c.channel,
        "priority": c.priority,
        "waiting_since": iso(c.waiting_since or c.queued_at),
        "escalation_level": c.escalation_level,
        "reminders": getattr(c, "reminders", 0),
    }
    if risk:
        item["agent"] = c.assigned_agent.display_name if c.assigned_agent is not None else None
    return item
