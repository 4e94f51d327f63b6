"""Reads for routing: who is eligible, how loaded, where a conversation stands in the queue."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from helpdesk import payloads
from helpdesk.models import Agent, AgentGroup, Conversation, Site
from routing import presence
from routing.hours import Hours, is_open, next_open
from routing.models import RoutingRule, Schedule
from routing.rules import Rule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    agent_id: int
    load: int
    capacity: int
    last_assigned_at: datetime | None


def active_rules() -> list[Rule]:
    rows = RoutingRule.objects.filter(active=True).prefetch_related("required_skills")
    return [Rule.of(r) for r in rows]


def capacity() -> Coalesce:
    """An agent's capacity, on their row: their own, else the largest default of their
    groups (none: 0). The statement that locks the agent reads it with the lock."""
    largest_default = AgentGroup.objects.filter(agents=OuterRef("pk")).order_by("-default_capacity")
    return Coalesce("capacity", Subquery(largest_default.values("default_capacity")[:1]), 0)


def capacities(agent_ids: Iterable[int]) -> dict[int, int]:
    """Each agent's ``capacity``."""
    rows = Agent.objects.filter(pk__in=list(agent_ids)).annotate(room_for=capacity())
    return dict(rows.values_list("pk", "room_for"))


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


def eligible(group_id: int, skill_ids: Iterable[int]) -> list[Candidate]:
    """Members of the group with every skill, available, connected and under capacity."""
    qs = Agent.objects.filter(groups=group_id, status=Agent.Status.AVAILABLE, user__is_active=True)
    for skill_id in skill_ids:
        qs = qs.filter(skills=skill_id)
    rows = dict(qs.values_list("pk", "last_assigned_at"))
    online = presence.online_agent_ids(rows)
    if not online:
        return []
    caps, loads = capacities(online), open_loads(online)
    return [Candidate(a, loads[a], caps[a], rows[a]) for a in sorted(online) if loads[a] < caps[a]]


def by_strategy(candidates: list[Candidate], strategy: str) -> list[Candidate]:
    """Balanced: fewest open, then idle longest. Round robin: longest since last assigned."""
    never = datetime.min.replace(tzinfo=timezone.get_current_timezone())

    def idle(c: Candidate) -> datetime:
        return c.last_assigned_at or never

    if strategy == AgentGroup.Strategy.ROUND_ROBIN:
        return sorted(candidates, key=lambda c: (idle(c), c.agent_id))
    return sorted(candidates, key=lambda c: (c.load, idle(c), c.agent_id))


def site_group_ids(site_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, set[int]]:
    """The groups each site's conversations can go to: its default and its rules' groups
    (one query for any number of sites)."""
    ids = list(site_ids)
    groups: dict[uuid.UUID, set[int]] = {site: set() for site in ids}
    defaults = Site.objects.filter(pk__in=ids, default_group__isnull=False)
    rules = RoutingRule.objects.filter(Q(site__in=ids) | Q(site__isnull=True), active=True)
    both = (
        defaults.order_by()
        .values_list("pk", "default_group")
        .union(rules.order_by().values_list("site", "group"), all=True)
    )
    for site, group in both:  # a rule with no site: every site
        for target in ids if site is None else [site]:
            groups[target].add(group)
    return groups


def sites_on_duty(site_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, bool]:
    """Whether any available, connected agent serves each site (two queries, one Redis
    round trip, for any number of sites)."""
    groups = site_group_ids(site_ids)
    members: dict[int, set[int]] = {}
    rows = Agent.objects.filter(
        groups__in={g for gs in groups.values() for g in gs},
        status=Agent.Status.AVAILABLE,
        user__is_active=True,
    ).values_list("groups", "pk")
    for group, agent in rows:
        members.setdefault(group, set()).add(agent)
    online = presence.online_agent_ids({a for agents in members.values() for a in agents})
    return {
        site: any(members.get(g, set()) & online for g in site_groups)
        for site, site_groups in groups.items()
    }


def duty_agents_sql(site_param: str) -> str:
    """``sites_on_duty``'s rule for one site as SQL, for a hand-written statement: an array
    of the available, active agents of the groups the site's conversations can go to (its
    default group and its rules' groups); whether one is connected is presence's to say
    (``presence.connect_seeing``). ``site_param``: the statement's parameter holding the
    site's ID. Table and column names come from the models (tests compare the two rules)."""
    agent, user = Agent._meta.db_table, Agent.user.field.related_model._meta.db_table
    through = Agent.groups.through._meta
    member = through.get_field("agent").column
    group = through.get_field("agentgroup").column
    site, rule = Site._meta.db_table, RoutingRule._meta.db_table
    return f"""(
    SELECT COALESCE(array_agg(DISTINCT a.id), '{{}}') FROM {agent} a
    JOIN {user} u ON u.id = a.user_id
    JOIN {through.db_table} m ON m.{member} = a.id
    WHERE a.status = '{Agent.Status.AVAILABLE.value}' AND u.is_active AND m.{group} IN (
        SELECT default_group_id FROM {site} WHERE id = %({site_param})s
        UNION SELECT group_id FROM {rule}
        WHERE active AND (site_id = %({site_param})s OR site_id IS NULL)
    )
)"""  # noqa: S608


def site_has_online_agent(site_id: uuid.UUID) -> bool:
    return sites_on_duty([site_id])[site_id]


def online_available_agents(group_ids: Iterable[int]) -> set[int]:
    ids = Agent.objects.filter(
        groups__in=list(group_ids), status=Agent.Status.AVAILABLE, user__is_active=True
    ).values_list("pk", flat=True)
    return presence.online_agent_ids(set(ids))


def sites_served_by(agent_id: int) -> list[uuid.UUID]:
    groups = list(AgentGroup.objects.filter(agents=agent_id).values_list("pk", flat=True))
    rules = RoutingRule.objects.filter(group__in=groups, active=True)
    if rules.filter(site__isnull=True).exists():
        return list(Site.objects.values_list("pk", flat=True))
    return list(
        Site.objects.filter(Q(default_group__in=groups) | Q(routingrule__in=rules))
        .distinct()
        .values_list("pk", flat=True)
    )


def queue_position(conversation: Conversation) -> int:
    """1 for the next conversation its group will take."""
    ahead = Conversation.objects.filter(
        Q(priority__gt=conversation.priority)
        | Q(priority=conversation.priority, queued_at__lt=conversation.queued_at),
        group=conversation.group_id,
        status=Conversation.Status.OPEN,
        assigned_agent__isnull=True,
    ).count()
    return ahead + 1


def hours_for(conversation: Conversation) -> Hours | None:
    """The group's business hours, else the site's; None when none are set."""
    return team_hours(conversation.group_id, conversation.site_id)


def team_hours(group_id: int | None, site_id: uuid.UUID) -> Hours | None:
    """``hours_for`` by the team's IDs."""
    schedule_id = (
        group_id is not None
        and AgentGroup.objects.filter(pk=group_id).values_list("business_hours", flat=True).first()
    ) or Site.objects.filter(pk=site_id).values_list("business_hours", flat=True).first()
    if schedule_id is None:
        return None
    schedule = Schedule.objects.prefetch_related("periods", "holidays").get(pk=schedule_id)
    try:
        ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning(
            "schedule %s has an unknown time zone %r; ignoring its hours",
            schedule.pk,
            schedule.timezone,
        )
        return None  # a typo in the back office must never break a visitor's message
    return Hours.of(schedule)


class HoursCache:
    """Business hours per team (group, site), each looked up once: for a scan or a report
    that asks for many conversations."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int | None, uuid.UUID], Hours | None] = {}

    def __call__(self, group_id: int | None, site_id: uuid.UUID) -> Hours | None:
        key = (group_id, site_id)
        if key not in self._cache:
            self._cache[key] = team_hours(group_id, site_id)
        return self._cache[key]


def team_next_in(conversation: Conversation, now: datetime) -> datetime | None:
    """When the team is next on duty (None: no hours set, or open now)."""
    hours = hours_for(conversation)
    if hours is None or is_open(hours, now):
        return None
    return next_open(hours, now)


def waiting_expectation(conversation: Conversation) -> dict[str, object] | None:
    """For a visitor whose conversation waits in a queue: their position while someone is
    on duty, else when the team is next in (``next_open_at`` null: no hours set)."""
    if conversation.status != Conversation.Status.OPEN or conversation.assigned_agent_id:
        return None
    if conversation.group_id is None:
        return {"next_open_at": None}
    if online_available_agents([conversation.group_id]):
        return {"position": queue_position(conversation)}
    return {"next_open_at": payloads.iso(team_next_in(conversation, timezone.now()))}
