"""Create demo data when the database is empty, and print the passwords once."""

from __future__ import annotations

import secrets
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from helpdesk.models import Agent, AgentGroup, Priority, Site, SiteText, Tag
from routing.models import OpeningPeriod, RoutingRule, Schedule, Skill

# The demo team works 09:00-18:00 on weekdays, in the first of these time zones where it is
# closed right now: a new user sees at once what a visitor is told off hours ("We're back
# tomorrow at 09:00", in the visitor's own time). Shanghai first: the team of the brief.
DEMO_ZONES = [
    "Asia/Shanghai",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Pacific/Auckland",
    "Asia/Kolkata",
]


def closed_zone(now: datetime) -> str:
    for name in DEMO_ZONES:
        local = now.astimezone(ZoneInfo(name))
        if local.weekday() >= 5 or not time(9) <= local.time() < time(18):
            return name
    return DEMO_ZONES[0]  # open everywhere at once cannot happen with these zones


class Command(BaseCommand):
    help = "Seed one site, a manager and two agents in two groups (only into an empty database)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    @transaction.atomic
    def handle(self, *args: Any, base_url: str, **options: Any) -> None:
        if Site.objects.exists():
            self.stdout.write("Demo data already present; nothing seeded.")
            return
        User = get_user_model()
        support = AgentGroup.objects.create(name="Support")
        sales = AgentGroup.objects.create(name="Sales")
        for name, color in [("VIP", "#d97706"), ("Refund", "#dc2626"), ("Bug", "#7c3aed")]:
            Tag.objects.create(name=name, color=color)
        zone = closed_zone(timezone.now())
        hours = Schedule.objects.create(name="Weekdays 9-18", timezone=zone)
        for weekday in range(5):
            OpeningPeriod.objects.create(
                schedule=hours, weekday=weekday, opens=time(9), closes=time(18)
            )
        site = Site.objects.create(
            name="Acme Store",
            default_group=support,
            business_hours=hours,
            greeting="Hi! Ask us anything about your order.",
        )
        # What Chinese-speaking visitors read (the widget speaks the visitor's language).
        SiteText.objects.create(
            site=site,
            language="zh-hans",
            greeting="您好！关于订单的任何问题，都可以问我们。",  # noqa: RUF001
            offline="我们现在不在线。您的留言已保存，我们上班后会在这里回复您。",  # noqa: RUF001
        )
        people = []
        manager_pw = secrets.token_urlsafe(9)
        User.objects.create_superuser("manager", "manager@example.com", manager_pw)
        people.append(("manager", manager_pw, "manager (Django admin)"))
        for username, name, groups in (
            ("alice", "Alice", [support]),
            ("bob", "Bob", [support, sales]),
        ):
            password = secrets.token_urlsafe(9)
            user = User.objects.create_user(username, f"{username}@example.com", password)
            agent = Agent.objects.create(user=user, display_name=name)
            agent.groups.set(groups)
            people.append((username, password, "agent in " + ", ".join(g.name for g in groups)))
        billing = Skill.objects.create(name="billing")
        Agent.objects.get(user__username="bob").skills.add(billing)
        rule = RoutingRule.objects.create(
            name="Refunds and invoices",
            order=10,
            keywords="refund, invoice",
            group=sales,
            priority=Priority.HIGH,
        )
        rule.required_skills.add(billing)
        out = self.stdout
        out.write(self.style.SUCCESS("Demo data created. These passwords are shown only once:"))
        for username, password, role in people:
            out.write(f"  {username:<8} {password:<14} {role}")
        out.write(f"  site     {site.name}, widget key {site.widget_key}")
        out.write(
            "  routing  messages about a refund or an invoice go to Sales (Bob, skill billing)"
        )
        out.write(f"  hours    weekdays 09:00-18:00 {zone} (closed now: the widget says when)")
