"""Planned and actual hours: weekly shifts with their dated exceptions turned into real
intervals (DST-safe, in each agent's time zone), and online sessions clipped to a period.
Reads only."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from routing.hours import _local
from routing.models import OnlineSession, Shift, ShiftException

Interval = tuple[datetime, datetime]


def planned(agent_ids: list[int], since: datetime, until: datetime) -> dict[int, list[Interval]]:
    """Each agent's shifts that overlap [since, until), as aware intervals. Two queries."""
    shifts = defaultdict(list)
    for s in Shift.objects.filter(agent_id__in=agent_ids):
        shifts[s.agent_id].append(s)
    exceptions = defaultdict(list)
    for e in ShiftException.objects.filter(
        agent_id__in=agent_ids,
        date__gte=(since - timedelta(days=1)).date(),
        date__lte=(until + timedelta(days=1)).date(),
    ):
        exceptions[(e.agent_id, e.date)].append(e)
    result: dict[int, list[Interval]] = {}
    for agent_id in agent_ids:
        zone = ZoneInfo(shifts[agent_id][0].timezone) if shifts[agent_id] else ZoneInfo("UTC")
        intervals = []
        day = since.astimezone(zone).date() - timedelta(days=1)
        last = until.astimezone(zone).date()
        while day <= last:
            changes = exceptions.get((agent_id, day), [])
            if not any(e.kind == ShiftException.Kind.OFF for e in changes):
                for s in shifts[agent_id]:
                    if s.weekday == day.weekday():
                        intervals.append(_interval(day, s.starts, s.ends, ZoneInfo(s.timezone)))
            for e in changes:
                if e.kind == ShiftException.Kind.EXTRA and e.starts and e.ends:
                    intervals.append(_interval(day, e.starts, e.ends, zone))
            day += timedelta(days=1)
        result[agent_id] = [
            (max(a, since), min(b, until)) for a, b in intervals if b > since and a < until
        ]
    return result


def _interval(day: date, starts: time, ends: time, zone: ZoneInfo) -> Interval:
    return _local(day, starts, zone), _local(day, ends, zone)


def hours(intervals: list[Interval]) -> float:
    return sum((b - a).total_seconds() for a, b in intervals) / 3600


def online(agent_ids: list[int], since: datetime, until: datetime) -> dict[int, list[Interval]]:
    """Online sessions clipped to [since, until); one still open runs until now."""
    now = timezone.now()
    result: dict[int, list[Interval]] = defaultdict(list)
    for s in OnlineSession.objects.filter(agent_id__in=agent_ids, started_at__lt=until).exclude(
        ended_at__lte=since
    ):
        end = min(s.ended_at or now, until)
        start = max(s.started_at, since)
        if end > start:
            result[s.agent_id].append((start, end))
    return result


def coverage(
    plans: dict[int, list[Interval]], since: datetime, until: datetime, zone: ZoneInfo
) -> list[list[float]]:
    """By weekday (Monday first) and hour of ``zone``: agents on shift, averaged over the
    weeks of the period (an hour counts an agent on shift at its middle)."""
    totals = [[0.0] * 24 for _ in range(7)]
    seen = [[0] * 24 for _ in range(7)]
    # Real hours (in UTC, so DST changes neither skip nor repeat one); an agent counts in the
    # hours whose middle falls in one of their shifts. Linear in the hours worked.
    base = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hour = timedelta(hours=1)
    slots = int((until - base) / hour) + 1
    on = [0] * slots
    for intervals in plans.values():
        for a, b in intervals:
            k = max(0, math.ceil((a - base - hour / 2) / hour))
            while k < slots and base + k * hour + hour / 2 < b:
                on[k] += 1
                k += 1
    for k in range(slots):
        middle = base + k * hour + hour / 2
        if middle >= until or middle < since:
            continue
        local = middle.astimezone(zone)
        seen[local.weekday()][local.hour] += 1
        totals[local.weekday()][local.hour] += on[k]
    return [
        [t / n if n else 0.0 for t, n in zip(tr, nr, strict=True)]
        for tr, nr in zip(totals, seen, strict=True)
    ]


def week_grid(
    agent_names: dict[int, str], week_start: date, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Who is on shift each hour of one week (for the group's weekly view)."""
    since = datetime.combine(week_start, time.min, tzinfo=zone)
    until = since + timedelta(days=7)
    plans = planned(list(agent_names), since, until)
    rows = []
    for offset in range(7):
        day = week_start + timedelta(days=offset)
        cells = []
        for hour in range(24):
            middle = datetime.combine(day, time(hour, 30), tzinfo=zone)
            on = sorted(
                agent_names[a] for a, iv in plans.items() if any(s <= middle < e for s, e in iv)
            )
            cells.append(on)
        rows.append({"day": day, "cells": cells})
    return rows
