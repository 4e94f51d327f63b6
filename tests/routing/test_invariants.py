"""Routing invariants over random teams and arrival orders (hypothesis).

Whatever the agents (skills, capacity, available or away) and whatever the order in which
conversations arrive and agents log in:
- nobody is ever above capacity;
- nobody receives work while away, offline, or missing a required skill;
- no conversation is left waiting while an eligible agent has room.
(One agent per conversation is a column; concurrency is tested in test_flush and the bench.)
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from helpdesk.models import Agent, Conversation
from routing import presence, selectors, services
from routing.models import Skill
from tests.factories import (
    AgentFactory,
    ConversationFactory,
    GroupFactory,
    SiteFactory,
    UserFactory,
    VisitorFactory,
)

SKILLS = ["billing", "chinese", "vip"]

agent_spec = st.fixed_dictionaries(
    {
        "skills": st.sets(st.sampled_from(SKILLS)),
        "capacity": st.integers(min_value=0, max_value=3),
        "away": st.booleans(),
    }
)
step = st.one_of(
    st.tuples(st.just("arrive"), st.sets(st.sampled_from(SKILLS), max_size=2), st.integers(0, 3)),
    st.tuples(st.just("login"), st.integers(min_value=0, max_value=4)),
)


class RoutingInvariants(TestCase):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(agents=st.lists(agent_spec, min_size=1, max_size=5), steps=st.lists(step, max_size=14))
    def test_invariants_hold_for_any_team_and_arrival_order(self, agents, steps):
        presence.store().clear()
        skills = {name: Skill.objects.get_or_create(name=name)[0] for name in SKILLS}
        group = GroupFactory(name=f"G{uuid.uuid4().hex[:6]}", default_capacity=2)
        site = SiteFactory(default_group=group)
        team = []
        for spec in agents:
            agent = AgentFactory(
                user=UserFactory(username=f"a{uuid.uuid4().hex[:8]}", password=None),
                member_of=[group],
                capacity=spec["capacity"],
                status="away" if spec["away"] else "available",
            )
            agent.skills.set(skills[s] for s in spec["skills"])
            team.append(agent)
        logged_in: set[int] = set()
        clock = timezone.now()
        for item in steps:
            clock += timedelta(seconds=1)
            if item[0] == "arrive":
                conv = ConversationFactory(
                    visitor=VisitorFactory(site=site),
                    group=group,
                    priority=item[2],
                    queued_at=clock,
                )
                conv.required_skills.set(skills[s] for s in item[1])
                with transaction.atomic():
                    services.conversation_route(
                        conversation=Conversation.objects.select_for_update().get(pk=conv.pk)
                    )
            else:
                agent = team[item[1] % len(team)]
                presence.store().connect("agent", str(agent.id), f"s-{agent.id}")
                logged_in.add(agent.id)
                services.agent_take_waiting(agent_id=agent.id)

        loads = selectors.open_loads(a.id for a in team)
        for agent in team:
            agent_skills = set(agent.skills.values_list("pk", flat=True))
            mine = Conversation.objects.filter(assigned_agent=agent)
            assert loads[agent.id] <= agent.capacity, "above capacity"
            if mine.exists():
                assert agent.id in logged_in, "work for an offline agent"
                assert agent.status == Agent.Status.AVAILABLE, "work for an away agent"
            for conv in mine:
                assert set(conv.required_skills.values_list("pk", flat=True)) <= agent_skills, (
                    "missing skill"
                )
        for conv in Conversation.objects.filter(group=group, assigned_agent__isnull=True):
            needed = set(conv.required_skills.values_list("pk", flat=True))
            for agent in team:
                eligible = (
                    agent.id in logged_in
                    and agent.status == Agent.Status.AVAILABLE
                    and needed <= set(agent.skills.values_list("pk", flat=True))
                    and loads[agent.id] < agent.capacity
                )
                assert not eligible, f"{conv.pk} waits while agent {agent.id} could take it"
