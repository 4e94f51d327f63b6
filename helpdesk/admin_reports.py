"""The Reports page of the back office (/admin/reports/): filters, figures, SVG charts, and
every table as CSV. Staff only; managers see their own sites and groups."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpdesk import access, reports
from helpdesk.access import Actor
from helpdesk.admin_access import actor_of
from helpdesk.models import Agent, AgentGroup, Channel, Site
from notifications.models import Notification
from routing.shifts import week_grid as shift_grid


class ReportFilters(forms.Form):
    start = forms.DateField(
        required=False, label=gettext_lazy("Start"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label=gettext_lazy("End"), widget=forms.DateInput(attrs={"type": "date"})
    )
    site = forms.ModelChoiceField(Site.objects.all(), required=False, label=gettext_lazy("Site"))
    group = forms.ModelChoiceField(
        AgentGroup.objects.all(), required=False, label=gettext_lazy("Group")
    )
    agent = forms.ModelChoiceField(Agent.objects.all(), required=False, label=gettext_lazy("Agent"))
    business_hours = forms.BooleanField(required=False, label=gettext_lazy("Business hours only"))

    def __init__(self, data: Any, *, actor: Actor) -> None:
        super().__init__(data)
        # Only names within the person's reach are offered (or accepted).
        self.fields["site"].queryset = access.sites_in_reach(actor)  # type: ignore[attr-defined]
        self.fields["group"].queryset = access.groups_in_reach(actor)  # type: ignore[attr-defined]
        self.fields["agent"].queryset = access.agents_in_reach(actor)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = timezone.now().date()
        data["end"] = data.get("end") or today
        data["start"] = data.get("start") or data["end"] - timedelta(days=27)
        if data["start"] > data["end"]:
            raise forms.ValidationError(_("The start is after the end."))
        if (data["end"] - data["start"]).days > 366:
            raise forms.ValidationError(_("At most a year at a time."))
        return data


def _zone(site: Site | None) -> ZoneInfo:
    """The site's time zone (its business hours'), else UTC."""
    if site is not None and site.business_hours_id:
        try:
            return ZoneInfo(site.business_hours.timezone)  # type: ignore[union-attr]
        except (KeyError, ValueError):
            pass
    return ZoneInfo("UTC")


def _label(field: str, value: str) -> str:
    """A notification's reason, channel or status in words (the reader's language)."""
    return str(dict(Notification._meta.get_field(field).flatchoices).get(value, value))


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return _("%(value)s s") % {"value": f"{seconds:.0f}"}
    if seconds < 3600:
        return _("%(value)s min") % {"value": f"{seconds / 60:.1f}"}
    return _("%(value)s h") % {"value": f"{seconds / 3600:.1f}"}


def _bars(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometry of the daily chart: visitor messages, the offline part darker."""
    top = max([d["messages"] for d in days] + [1])
    width = max(8, min(40, 720 // max(1, len(days))))
    bars = []
    for i, d in enumerate(days):
        height = 160 * d["messages"] / top
        offline = 160 * d["offline"] / top
        bars.append(
            {
                "x": 40 + i * width,
                "w": width - 2,
                "y": 180 - height,
                "h": height,
                "oy": 180 - offline,
                "oh": offline,
                # Translators: a day on the chart's axis (Django date format).
                "label": formats.date_format(d["day"], _("j M")),
                "title": _("%(day)s: %(messages)s messages, %(offline)s offline")
                % {
                    "day": formats.date_format(d["day"], _("D j M")),
                    "messages": d["messages"],
                    "offline": d["offline"],
                },
                "show_label": i % max(1, len(days) // 7) == 0,
            }
        )
    return {"bars": bars, "top": top, "width": 40 + len(days) * width + 10}


def _csv(name: str, rows: list[dict[str, Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="helpdesk-{name}.csv"'
    if rows:
        writer = csv.DictWriter(response, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return response


WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _group_names() -> dict[int, str]:
    return {g.pk: g.name for g in AgentGroup.objects.all()}


def _response_rows(resp: dict[str, Any]) -> list[dict[str, Any]]:
    """The responses table as CSV rows: overall, per group, per agent, per channel."""
    groups = _group_names()
    names = dict(Agent.objects.values_list("pk", "display_name"))
    rows = [{"by": "all", "name": "all", **resp["overall"]}]
    rows += [{"by": "group", "name": groups.get(k, "-"), **v} for k, v in resp["by_group"].items()]
    rows += [{"by": "agent", "name": names.get(k, "-"), **v} for k, v in resp["by_agent"].items()]
    rows += [{"by": "channel", "name": k, **v} for k, v in resp["by_channel"].items()]
    return rows


def _demand_rows(demand: dict[str, Any]) -> list[dict[str, Any]]:
    """The demand heatmap as CSV rows: one per weekday and hour."""
    return [
        {"weekday": WEEKDAYS[w], "hour": h, "per_hour": round(c["rate"], 2), "agents": c["agents"]}
        for w, row in enumerate(demand["grid"])
        for h, c in enumerate(row)
    ]


def reports_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("helpdesk.view_conversation"):
        raise PermissionDenied
    actor = actor_of(request)
    # Every field optional: empty means the last 4 weeks.
    form = ReportFilters(request.GET, actor=actor)
    if form.is_valid():
        data = form.cleaned_data
    else:
        fallback = ReportFilters({}, actor=actor)  # show the errors, with the default period
        fallback.is_valid()
        data = fallback.cleaned_data
    site = data.get("site")
    f = reports.Filters(
        start=data["start"],
        end=data["end"],
        zone=_zone(site),
        site_id=site.pk if site else None,
        group_id=data["group"].pk if data.get("group") else None,
        agent_id=data["agent"].pk if data.get("agent") else None,
        business_hours=bool(data.get("business_hours")),
        scope=None if actor.superuser else access.visible(actor),
        people=None if actor.superuser else access.agents_in_reach(actor).values("pk"),
    )
    # A CSV download computes only its own table.
    exports: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "volume": lambda: reports.volume(f),
        "agents": lambda: reports.agents(f),
        "service": lambda: reports.service(f),
        "responses": lambda: _response_rows(reports.responses(f)),
        "demand": lambda: _demand_rows(reports.demand(f)),
    }
    table = request.GET.get("csv", "")
    if table in exports:
        return _csv(table, exports[table]())
    days = reports.volume(f)
    resp = reports.responses(f)
    team = reports.agents(f, resp["by_agent"])
    demand = reports.demand(f)
    service = reports.service(f)
    groups = _group_names()
    top_rate = max([c["rate"] for row in demand["grid"] for c in row] + [0.0001])
    context = {
        **admin.site.each_context(request),
        "title": _("Reports"),
        "form": form,
        "filters": f,
        "zone": str(f.zone),
        "days": days,
        "chart": _bars(days),
        "totals": {
            "conversations": sum(d["conversations"] for d in days),
            "messages": sum(d["messages"] for d in days),
            "offline": sum(d["offline"] for d in days),
        },
        "responses": {
            "overall": {k: _minutes(v) if k != "count" else v for k, v in resp["overall"].items()},
            "started_offline": {
                k: _minutes(v) if k != "count" else v for k, v in resp["started_offline"].items()
            },
            "next_reply": {
                k: _minutes(v) if k != "count" else v for k, v in resp["next_reply"].items()
            },
            "until_delivered": {
                k: _minutes(v) if k != "count" else v
                for k, v in resp["offline_until_delivered"].items()
            },
            "groups": [
                {
                    "name": groups.get(k, "-"),
                    "median": _minutes(v["median"]),
                    "p90": _minutes(v["p90"]),
                    "count": v["count"],
                }
                for k, v in resp["by_group"].items()
            ],
            "channels": [
                {
                    "name": Channel(k).label,
                    "median": _minutes(v["median"]),
                    "p90": _minutes(v["p90"]),
                    "count": v["count"],
                }
                for k, v in sorted(resp["by_channel"].items())
            ],
        },
        "agents": [{**a, "median": _minutes(a["median_first_response"])} for a in team],
        "waited_past": {
            _("Longer than %(minutes)s min") % {"minutes": t // 60}: n
            for t, n in zip(reports.WAIT_THRESHOLDS, resp["waited_past"].values(), strict=True)
        },
        "unanswered": resp["unanswered"],
        "heat": [
            {
                "day": day,
                "cells": [
                    {**c, "alpha": round(0.8 * min(1, c["rate"] / top_rate), 2)} for c in row
                ],
            }
            for day, row in zip(WEEKDAYS_ABBR.values(), demand["grid"], strict=True)
        ],
        "demand": demand,
        # The notifications' kinds in words (the CSV keeps their codes).
        "service": [
            {
                **row,
                "reason": _label("reason", row["reason"]),
                "channel": _label("channel", row["channel"]),
                "status": _label("status", row["status"]),
            }
            for row in service
        ],
        "query": request.GET.urlencode(),
    }
    return render(request, "admin/reports.html", context)


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
        "title": _("Shifts"),
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
