"""The Reports page of the back office (/admin/reports/): filters, figures, SVG charts, and
every table as CSV. Staff only; managers see their own sites and groups.

The page is put together from one small builder per section; a CSV download computes only
its own table (``EXPORTS``)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpdesk import access, reports
from helpdesk.access import Actor
from helpdesk.admin_access import actor_of
from helpdesk.models import Agent, AgentGroup, Channel, Site, Tag
from notifications.models import Notification

Rows = list[dict[str, Any]]


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


def zone_of(site: Site | None) -> ZoneInfo:
    """The site's time zone (its business hours'), else UTC."""
    if site is not None and site.business_hours_id:
        try:
            return ZoneInfo(site.business_hours.timezone)  # type: ignore[union-attr]
        except (KeyError, ValueError):
            pass
    return ZoneInfo("UTC")


def report_filters(request: HttpRequest, actor: Actor) -> tuple[ReportFilters, reports.Filters]:
    """The form as asked (with its errors) and the filters it gives; every field optional:
    empty means the last four weeks, everything in the person's reach."""
    form = ReportFilters(request.GET, actor=actor)
    if form.is_valid():
        data = form.cleaned_data
    else:
        fallback = ReportFilters({}, actor=actor)  # show the errors, with the default period
        fallback.is_valid()
        data = fallback.cleaned_data
    site, group, agent = data.get("site"), data.get("group"), data.get("agent")
    return form, reports.Filters(
        start=data["start"],
        end=data["end"],
        zone=zone_of(site),
        site_id=site.pk if site else None,
        group_id=group.pk if group else None,
        agent_id=agent.pk if agent else None,
        business_hours=bool(data.get("business_hours")),
        scope=None if actor.superuser else access.visible(actor),
        people=None if actor.superuser else access.agents_in_reach(actor).values("pk"),
    )


# ---- formatting ------------------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    """A duration in words, in the reader's language."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return _("%(value)s s") % {"value": f"{seconds:.0f}"}
    if seconds < 3600:
        return _("%(value)s min") % {"value": f"{seconds / 60:.1f}"}
    if seconds < 86400 * 2:
        return _("%(value)s h") % {"value": f"{seconds / 3600:.1f}"}
    return _("%(value)s d") % {"value": f"{seconds / 86400:.1f}"}


def label(field: str, value: str) -> str:
    """A notification's reason, channel or status in words (the reader's language)."""
    column = Notification._meta.get_field(field)
    assert isinstance(column, models.Field)
    return str(dict(column.flatchoices).get(value, value))


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def timed(figures: dict[str, Any]) -> dict[str, Any]:
    """count, median and p90 with the durations in words."""
    return {k: v if k == "count" else duration(v) for k, v in figures.items()}


def names() -> dict[str, dict[Any, str]]:
    """Names of groups, agents and tags by ID (three small queries)."""
    return {
        "group": dict(AgentGroup.objects.values_list("pk", "name")),
        "agent": dict(Agent.objects.values_list("pk", "display_name")),
        "tag": dict(Tag.objects.values_list("pk", "name")),
    }


# ---- the volume chart and table --------------------------------------------------------------------


def bars(days: Rows) -> dict[str, Any]:
    """Geometry of the daily chart: visitor messages, the offline part darker."""
    top = max([d["messages"] for d in days] + [1])
    width = max(8, min(40, 720 // max(1, len(days))))
    drawn = []
    for i, d in enumerate(days):
        height = 160 * d["messages"] / top
        offline = 160 * d["offline"] / top
        drawn.append(
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
    return {"bars": drawn, "top": top, "width": 40 + len(days) * width + 10}


def collapsed(days: Rows) -> Rows:
    """The day table: a run of days with nothing (no conversation, no message) is one row."""
    rows: Rows = []
    for day in days:
        quiet = not day["conversations"] and not day["messages"]
        if quiet and rows and rows[-1].get("quiet"):
            rows[-1]["until"] = day["day"]
            rows[-1]["days"] += 1
        elif quiet:
            rows.append({"quiet": True, "day": day["day"], "until": day["day"], "days": 1})
        else:
            rows.append(day)
    return rows


# ---- tables, each also a CSV ------------------------------------------------------------------------


def response_rows(resp: dict[str, Any], known: dict[str, dict[Any, str]]) -> Rows:
    """First responses: overall, per group, per agent, per channel."""
    rows = [{"by": "all", "name": "all", **resp["overall"]}]
    rows += [
        {"by": "group", "name": known["group"].get(k, "-"), **v}
        for k, v in resp["by_group"].items()
    ]
    rows += [
        {"by": "agent", "name": known["agent"].get(k, "-"), **v}
        for k, v in resp["by_agent"].items()
    ]
    rows += [{"by": "channel", "name": k, **v} for k, v in resp["by_channel"].items()]
    return rows


WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def demand_rows(demand: dict[str, Any]) -> Rows:
    """The demand heatmap: one row per weekday and hour."""
    return [
        {"weekday": WEEKDAYS[w], "hour": h, "per_hour": round(c["rate"], 2), "agents": c["agents"]}
        for w, row in enumerate(demand["grid"])
        for h, c in enumerate(row)
    ]


def waiting_rows(resp: dict[str, Any]) -> Rows:
    rows = [
        {"waited": f"longer than {k}", "conversations": n} for k, n in resp["waited_past"].items()
    ]
    return [*rows, {"waited": "not answered yet", "conversations": resp["unanswered"]}]


def satisfaction_rows(sat: dict[str, Any], known: dict[str, dict[Any, str]]) -> Rows:
    """Ratings overall, then by agent, team and tag (the conversation's)."""
    rows = [{"by": "all", "name": "all", **sat["overall"]}]
    for kind in ("agent", "group", "tag"):
        rows += [
            {"by": kind, "name": known[kind].get(k, "-") if k is not None else "none", **v}
            for k, v in sat[f"by_{kind}"].items()
        ]
    return rows


def resolution_rows(res: dict[str, Any], known: dict[str, dict[Any, str]]) -> Rows:
    """Resolution times (seconds) and reopen rates: overall, by team, by agent."""
    rows = [{"by": "all", "name": "all", **res["overall"]}]
    for kind in ("group", "agent"):
        rows += [
            {"by": kind, "name": known[kind].get(k, "-") if k is not None else "none", **v}
            for k, v in res[f"by_{kind}"].items()
        ]
    return rows


def tag_rows(f: reports.Filters) -> Rows:
    """Volume per tag, with the tag's satisfaction."""
    by_tag = reports.satisfaction(f)["by_tag"]
    return [
        {
            "tag": t["name"],
            "conversations": t["conversations"],
            **{f"rated_{k}": v for k, v in by_tag.get(pk, reports._rated(_NONE)).items()},
        }
        for pk, t in reports.tags(f).items()
    ]


_NONE = {"count": 0, "satisfied": 0, "average": None}

EXPORTS: dict[str, Callable[[reports.Filters], Rows]] = {
    "volume": reports.volume,
    "responses": lambda f: response_rows(reports.responses(f), names()),
    "waiting": lambda f: waiting_rows(reports.responses(f)),
    "agents": reports.agents,
    "demand": lambda f: demand_rows(reports.demand(f)),
    "service": reports.service,
    "satisfaction": lambda f: satisfaction_rows(reports.satisfaction(f), names()),
    "resolution": lambda f: resolution_rows(reports.resolution(f), names()),
    "tags": tag_rows,
}


def as_csv(name: str, rows: Rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="helpdesk-{name}.csv"'
    if rows:
        writer = csv.DictWriter(response, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return response


# ---- the page's sections ---------------------------------------------------------------------------


def volume_section(f: reports.Filters) -> dict[str, Any]:
    days = reports.volume(f)
    return {
        "days": collapsed(days),
        "chart": bars(days),
        "totals": {k: sum(d[k] for d in days) for k in ("conversations", "messages", "offline")},
    }


def responses_section(resp: dict[str, Any], known: dict[str, dict[Any, str]]) -> dict[str, Any]:
    return {
        "responses": {
            "overall": timed(resp["overall"]),
            "started_offline": timed(resp["started_offline"]),
            "next_reply": timed(resp["next_reply"]),
            "until_delivered": timed(resp["offline_until_delivered"]),
            "groups": [
                {"name": known["group"].get(k, "-"), **timed(v)}
                for k, v in resp["by_group"].items()
            ],
            "channels": [
                {"name": Channel(k).label, **timed(v)}
                for k, v in sorted(resp["by_channel"].items())
            ],
        },
        "waited_past": {
            _("Longer than %(minutes)s min") % {"minutes": t // 60}: n
            for t, n in zip(reports.WAIT_THRESHOLDS, resp["waited_past"].values(), strict=True)
        },
        "unanswered": resp["unanswered"],
    }


def team_section(f: reports.Filters, resp: dict[str, Any]) -> dict[str, Any]:
    team = reports.agents(f, resp["by_agent"])
    return {"agents": [{**a, "median": duration(a["median_first_response"])} for a in team]}


def demand_section(f: reports.Filters) -> dict[str, Any]:
    demand = reports.demand(f)
    top = max([c["rate"] for row in demand["grid"] for c in row] + [0.0001])
    heat = [
        # At most 80% blue: the hour's figure stays readable on the darkest cell.
        {
            "day": day,
            "cells": [{**c, "alpha": round(0.8 * min(1, c["rate"] / top), 2)} for c in row],
        }
        for day, row in zip(WEEKDAYS_ABBR.values(), demand["grid"], strict=True)
    ]
    return {"demand": demand, "heat": heat}


def rated(figures: dict[str, Any]) -> dict[str, Any]:
    average = figures["average"]
    return {
        "count": figures["count"],
        "satisfied": share(figures["satisfied_share"]),
        "average": "-" if average is None else f"{average:.1f}",
    }


def outcome_section(f: reports.Filters, known: dict[str, dict[Any, str]]) -> dict[str, Any]:
    """Satisfaction, resolution and tags."""
    sat = reports.satisfaction(f)
    res = reports.resolution(f)

    def named(kind: str, rows: dict[Any, Any], fmt: Callable[[Any], Any]) -> Rows:
        return sorted(
            ({"name": known[kind].get(k, "-"), **fmt(v)} for k, v in rows.items() if k is not None),
            key=lambda r: r["name"],
        )

    def resolved(v: dict[str, Any]) -> dict[str, Any]:
        return {
            **timed({k: v[k] for k in ("count", "median", "p90")}),
            "reopen": share(v["reopen_rate"]),
        }

    return {
        "satisfaction": {
            "overall": rated(sat["overall"]),
            "agents": named("agent", sat["by_agent"], rated),
            "groups": named("group", sat["by_group"], rated),
        },
        "resolution": {
            "overall": resolved(res["overall"]),
            "groups": named("group", res["by_group"], resolved),
            "agents": named("agent", res["by_agent"], resolved),
        },
        "tags": [
            {**t, **rated(sat["by_tag"].get(pk, reports._rated(_NONE)))}
            for pk, t in reports.tags(f).items()
        ],
    }


def reports_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("helpdesk.view_conversation"):
        raise PermissionDenied
    form, f = report_filters(request, actor_of(request))
    table = request.GET.get("csv", "")
    if table in EXPORTS:
        return as_csv(table, EXPORTS[table](f))
    resp = reports.responses(f)
    known = names()
    context = {
        **admin.site.each_context(request),
        "title": _("Reports"),
        "form": form,
        "filters": f,
        "zone": str(f.zone),
        "query": request.GET.urlencode(),
        # The notifications' kinds in words (the CSV keeps their codes).
        "service": [
            {
                **row,
                "reason": label("reason", row["reason"]),
                "channel": label("channel", row["channel"]),
                "status": label("status", row["status"]),
            }
            for row in reports.service(f)
        ],
        **volume_section(f),
        **responses_section(resp, known),
        **team_section(f, resp),
        **demand_section(f),
        **outcome_section(f, known),
    }
    return render(request, "admin/reports.html", context)
