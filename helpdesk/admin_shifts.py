"""The Shifts page of the back office (/admin/shifts/): one group's week, hour by hour."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from helpdesk import access
from helpdesk.admin_access import actor_of
from routing.shifts import week_grid as shift_grid


def shifts_view(request: HttpRequest) -> HttpResponse:
    """Who is on shift, hour by hour, for one group and one week (in the group's time zone)."""
    if not request.user.has_perm("helpdesk.view_agent"):
        raise PermissionDenied
    groups = list(access.groups_overseen(actor_of(request)).select_related("business_hours"))
    wanted = request.GET.get("group", "")
    group = next((g for g in groups if str(g.pk) == wanted), groups[0] if groups else None)
    try:
        week = date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        week = timezone.now().date()
    week -= timedelta(days=week.weekday())  # its Monday
    zone = (
        ZoneInfo(group.business_hours.timezone)
        if group and group.business_hours_id
        else ZoneInfo("UTC")
    )  # type: ignore[union-attr]
    names = dict(group.agents.values_list("pk", "display_name")) if group else {}
    rows = shift_grid(names, week, zone)
    context = {
        **admin.site.each_context(request),
        "title": "Shifts",
        "groups": groups,
        "group": group,
        "week": week,
        "previous": week - timedelta(days=7),
        "next": week + timedelta(days=7),
        "zone": str(zone),
        "rows": rows,
        "hours": range(24),
        "people": sorted(names.values()),
    }
    return render(request, "admin/shifts.html", context)
