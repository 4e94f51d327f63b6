"""The Shifts page of the back office (/admin/shifts/): one group's week hour by hour, and an
editable weekly grid per agent (click or drag hours; helpdesk/static/helpdesk/shifts.js).

The grid is a form of 168 checkboxes (weekday-hour), so it works without a script too. Only a
person who oversees one of the agent's groups, with the right to change agents, may save."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone

from helpdesk import access
from helpdesk.admin_access import actor_of
from helpdesk.admin_widgets import timezone_choices
from helpdesk.models import Agent, AgentGroup
from routing import shift_services
from routing.shifts import week_grid as shift_grid

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _zone_of(group: AgentGroup | None) -> str:
    if group is not None and group.business_hours_id:
        return group.business_hours.timezone  # type: ignore[union-attr]
    return "UTC"


def _week_start(request: HttpRequest) -> date:
    try:
        week = date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        week = timezone.now().date()
    return week - timedelta(days=week.weekday())  # its Monday


def _picked(request: HttpRequest, groups: list[AgentGroup]) -> tuple[Any, Any, list[Agent]]:
    """The group asked for (else the first), and the agent asked for among its members."""
    source = request.POST if request.method == "POST" else request.GET
    wanted = source.get("group", "")
    group = next((g for g in groups if str(g.pk) == wanted), groups[0] if groups else None)
    members = (
        list(group.agents.filter(user__is_active=True).order_by("display_name")) if group else []
    )
    agent_id = source.get("agent", "")
    agent = next((a for a in members if str(a.pk) == agent_id), None)
    return group, agent if agent is not None else (members[0] if members else None), members


def _grid(agent: Agent, zone: str) -> dict[str, Any]:
    """The agent's week for the form: per weekday, 24 cells (on, partly on)."""
    week = shift_services.week_of(agent.pk, zone)
    rows = [
        {
            "name": name,
            "cells": [
                {
                    "value": f"{day}-{hour}",
                    "on": hour in week.full[day],
                    "partial": hour in week.partial[day],
                }
                for hour in range(24)
            ],
        }
        for day, name in enumerate(WEEKDAYS)
    ]
    partial = any(week.partial.values())
    return {"rows": rows, "zone": week.zone, "partial": partial}


def _hours_from(post: Any) -> dict[int, set[int]] | None:
    """``on=3-9`` … from the form as {weekday: {hours}}; None for anything malformed."""
    hours: dict[int, set[int]] = {d: set() for d in range(7)}
    for value in post.getlist("on"):
        day, _, hour = str(value).partition("-")
        if not (day.isdigit() and hour.isdigit() and int(day) < 7 and int(hour) < 24):
            return None
        hours[int(day)].add(int(hour))
    return hours


def _save(request: HttpRequest, agent: Agent, group: AgentGroup) -> HttpResponse:
    if not request.user.has_perm("helpdesk.change_agent"):
        raise PermissionDenied
    hours = _hours_from(request.POST)
    zone = request.POST.get("timezone", "")
    if hours is None or zone not in {z for _, zones in timezone_choices() for z, _ in zones}:
        messages.error(request, "That grid could not be read: nothing was changed.")
    else:
        days = shift_services.shifts_week_set(
            agent_id=agent.pk, zone=zone, hours=hours, user=request.user
        )
        text = (
            f"{agent.display_name}'s week is saved ({days} day{'s' if days != 1 else ''} changed)."
        )
        messages.success(request, text if days else f"{agent.display_name}'s week had no changes.")
    return HttpResponseRedirect(f"?group={group.pk}&agent={agent.pk}")


def shifts_view(request: HttpRequest) -> HttpResponse:
    """Who is on shift, hour by hour, for one group and one week (in the group's time zone),
    and one agent's weekly rota to edit."""
    if not request.user.has_perm("helpdesk.view_agent"):
        raise PermissionDenied
    groups = list(access.groups_overseen(actor_of(request)).select_related("business_hours"))
    group, agent, members = _picked(request, groups)
    if request.method == "POST":
        # Exactly the group and agent named, or nothing: never the page's fallbacks.
        if (
            group is None
            or agent is None
            or (str(group.pk), str(agent.pk))
            != (request.POST.get("group"), request.POST.get("agent"))
        ):
            raise PermissionDenied
        return _save(request, agent, group)
    week = _week_start(request)
    zone = _zone_of(group)
    names = {a.pk: a.display_name for a in members}
    context = {
        **admin.site.each_context(request),
        "title": "Shifts",
        "groups": groups,
        "group": group,
        "members": members,
        "agent": agent,
        "editable": request.user.has_perm("helpdesk.change_agent"),
        "grid": _grid(agent, zone) if agent else None,
        "zones": timezone_choices(),
        "week": week,
        "previous": week - timedelta(days=7),
        "next": week + timedelta(days=7),
        "zone": zone,
        "rows": shift_grid(names, week, ZoneInfo(zone)),
        "hours": range(24),
        "people": sorted(names.values()),
    }
    return render(request, "admin/shifts.html", context)
