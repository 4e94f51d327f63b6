"""The back office's dashboard (its index page): today at a glance, for what the signed-in
person may see. Reads only; a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Min
from django.db.models.functions import Coalesce
from django.utils import timezone

from helpdesk import access, reports
from helpdesk.access import Actor
from helpdesk.models import Conversation

UTC = ZoneInfo("UTC")


def figures(actor: Actor) -> dict[str, Any]:
    """Today (UTC): conversations and visitor messages, the median first response; waiting
    now and the longest wait; satisfaction over the last 7 days."""
    now = timezone.now()
    scope = None if actor.superuser else access.visible(actor)
    people = None if actor.superuser else access.agents_in_reach(actor).values("pk")
    today = reports.Filters(start=now.date(), end=now.date(), zone=UTC, scope=scope, people=people)
    week = reports.Filters(
        start=now.date() - timedelta(days=6), end=now.date(), zone=UTC, scope=scope, people=people
    )
    [day] = reports.volume(today)
    answered = reports.first_response_figures(today)["overall"]
    waiting = (
        access.visible(actor)
        .filter(status=Conversation.Status.OPEN, assigned_agent__isnull=True)
        .aggregate(n=Count("pk"), since=Min(Coalesce("waiting_since", "queued_at")))
    )
    rated = reports.satisfaction(week)["overall"]
    return {
        "conversations": day["conversations"],
        "messages": day["messages"],
        "first_response": answered["median"],
        "answered": answered["count"],
        "waiting": waiting["n"],
        "longest_wait": (now - waiting["since"]).total_seconds() if waiting["since"] else None,
        "satisfied": rated["satisfied_share"],
        "ratings": rated["count"],
    }
