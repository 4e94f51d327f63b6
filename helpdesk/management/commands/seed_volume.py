"""A realistic volume for development and benchmarks: several sites in their own time zones,
their teams and shifts, and (by default) 100,000 conversations with 1,000,000 messages over
the last 90 days, busier by day than by night, some of them started while nobody was online.

    python manage.py seed_volume                       # 100k conversations, 1M messages
    python manage.py seed_volume --conversations 5000 --messages 50000
"""

from __future__ import annotations

import random
import uuid
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from helpdesk.models import Agent, AgentGroup, Conversation, Message, Rating, Site, Tag, Visitor
from offline.models import OfflineMessage
from routing.models import OpeningPeriod, Schedule, Shift

SITES = [
    ("Lotus Tea (Shanghai)", "Asia/Shanghai"),
    ("Brandt Werkzeug (Berlin)", "Europe/Berlin"),
    ("Hudson Outfitters (New York)", "America/New_York"),
]
# Relative arrivals by local hour: quiet nights, a morning and an evening peak.
HOURLY = [1, 1, 1, 1, 1, 2, 3, 6, 9, 11, 12, 12, 10, 11, 12, 11, 10, 9, 9, 10, 9, 6, 4, 2]
LINES = [
    "Where is my order?",
    "Can I change the delivery address?",
    "Do you ship abroad?",
    "The item arrived damaged.",
    "How do I return this?",
    "Is this in stock in blue?",
]


@contextmanager
def historical_timestamps():
    """Let bulk inserts keep the timestamps we give them (created_at is auto_now_add)."""
    fields = [m._meta.get_field("created_at") for m in (Conversation, Message, Visitor, Rating)]
    for f in fields:
        f.auto_now_add = False
    try:
        yield
    finally:
        for f in fields:
            f.auto_now_add = True


class Command(BaseCommand):
    help = "Seed sites, teams, shifts and a large history of conversations (for benchmarks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--conversations", type=int, default=100_000)
        parser.add_argument("--messages", type=int, default=1_000_000)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--seed", type=int, default=7)

    def handle(
        self, *args: Any, conversations: int, messages: int, days: int, seed: int, **o: Any
    ) -> None:
        rng = random.Random(seed)
        # Resolution, ratings and tags draw from their own stream: the rest of the history
        # stays what it was (benchmarks compare across runs).
        self.outcomes = random.Random(seed + 1)
        self.tags = [Tag.objects.get_or_create(name=n)[0] for n in ("Delivery", "Returns", "VIP")]
        per = max(2, messages // max(1, conversations))
        teams = [self._site(name, zone, i) for i, (name, zone) in enumerate(SITES)]
        now = timezone.now()
        weights = HOURLY * days
        done = 0
        with historical_timestamps():
            while done < conversations:
                batch = min(2000, conversations - done)
                with transaction.atomic():
                    self._batch(rng, teams, batch, per, now, days, weights)
                done += batch
                self.stdout.write(f"{done} conversations, {done * per} messages")
        self.stdout.write(self.style.SUCCESS("Seeded."))

    def _site(self, name: str, zone: str, index: int) -> dict[str, Any]:
        group = AgentGroup.objects.filter(name=f"{name} team").first()
        if group is not None:  # seeded before: add to the same sites and teams
            site = Site.objects.get(default_group=group)
            agents = list(group.agents.order_by("pk"))
            return {"site": site, "group": group, "agents": agents, "zone": ZoneInfo(zone)}
        hours = Schedule.objects.create(name=f"{name} hours", timezone=zone)
        for day in range(5):
            OpeningPeriod.objects.create(schedule=hours, weekday=day, opens="09:00", closes="18:00")
        group = AgentGroup.objects.create(
            name=f"{name} team", business_hours=hours, default_capacity=20
        )
        site = Site.objects.create(name=name, default_group=group, business_hours=hours)
        agents = []
        for i in range(5):
            user = get_user_model().objects.create_user(f"volume-{index}-{i}", password=None)
            agent = Agent.objects.create(user=user, display_name=f"{name.split()[0]} agent {i + 1}")
            agent.groups.add(group)
            for day in range(5):
                start = "08:00" if i % 2 else "12:00"
                end = "16:00" if i % 2 else "20:00"
                Shift.objects.create(
                    agent=agent, weekday=day, starts=start, ends=end, timezone=zone
                )
            agents.append(agent)
        return {"site": site, "group": group, "agents": agents, "zone": ZoneInfo(zone)}

    def _batch(self, rng, teams, n, per, now, days, weights) -> None:
        starts = []
        for _ in range(n):
            team = rng.choice(teams)
            slot = rng.choices(range(len(weights)), weights=weights)[0]
            local_day = (now - timedelta(days=days - slot // 24)).astimezone(team["zone"])
            start = local_day.replace(
                hour=slot % 24, minute=rng.randrange(60), second=rng.randrange(60)
            )
            starts.append((team, min(start, now - timedelta(minutes=30))))
        visitors = Visitor.objects.bulk_create(
            Visitor(
                site=t["site"],
                channel=rng.choice(["web", "web", "app", "mini_program"]),
                created_at=s,
            )
            for t, s in starts
        )
        convs, msgs, offline = [], [], []
        for (team, start), visitor in zip(starts, visitors, strict=True):
            agent = rng.choice(team["agents"])
            started_offline = start.astimezone(team["zone"]).hour not in range(9, 18)
            conv = Conversation(
                site=team["site"],
                visitor=visitor,
                channel=visitor.channel,
                group=team["group"],
                assigned_agent=agent,
                assigned_at=start,
                queued_at=start,
                created_at=start,
                status="resolved",
                last_seq=per,
                agent_read_seq=per,
            )
            at = previous_at = start
            first_reply = None
            for seq in range(1, per + 1):
                sender = "visitor" if seq % 2 else "agent"
                if seq > 1:
                    wait = rng.expovariate(1 / (600 if started_offline and seq == 2 else 120))
                    at = at + timedelta(seconds=10 + wait)
                    if sender == "agent" and first_reply is None:
                        first_reply = at
                msgs.append(
                    Message(
                        conversation=conv,
                        seq=seq,
                        sender=sender,
                        agent=agent if sender == "agent" else None,
                        body=rng.choice(LINES)
                        if sender == "visitor"
                        else "Let me check that for you.",
                        client_id=uuid.uuid4(),
                        created_at=at,
                        # the visitor's line came just before: that is how long they waited
                        answered_wait=(at - previous_at) if sender == "agent" else None,
                    )
                )
                previous_at = at
                if sender == "visitor":
                    conv.last_visitor_seq = seq
                else:
                    conv.last_agent_seq = seq
            conv.last_message_at = at
            conv.first_visitor_at = start
            conv.first_response_at = first_reply
            conv.first_response_agent = agent if first_reply else None
            conv.started_offline = started_offline
            conv.resolved_at = at + timedelta(minutes=self.outcomes.uniform(1, 30))
            convs.append(conv)
            if started_offline:
                offline.append((len(msgs) - per, first_reply or at))
        Conversation.objects.bulk_create(convs, batch_size=2000)
        Message.objects.bulk_create(msgs, batch_size=5000)
        self._outcomes(convs)
        OfflineMessage.objects.bulk_create(
            (
                OfflineMessage(
                    message=msgs[i],
                    conversation_id=msgs[i].conversation_id,
                    audience="agent",
                    state="delivered",
                    created_at=msgs[i].created_at,
                    delivered_at=delivered,
                )
                for i, delivered in offline
            ),
            batch_size=5000,
        )

    def _outcomes(self, convs: list[Conversation]) -> None:
        """A third of the conversations rated (mostly well), one in five tagged."""
        r = self.outcomes
        Rating.objects.bulk_create(
            (
                Rating(
                    conversation=c,
                    scale="five",
                    score=r.choices([5, 4, 3, 2, 1], weights=[50, 25, 10, 8, 7])[0],
                    created_at=c.resolved_at or c.created_at,
                )
                for c in convs
                if r.random() < 0.33
            ),
            batch_size=5000,
        )
        through = Conversation.tags.through
        through.objects.bulk_create(
            (
                through(conversation_id=c.pk, tag_id=r.choice(self.tags).pk)
                for c in convs
                if r.random() < 0.2
            ),
            batch_size=5000,
        )
