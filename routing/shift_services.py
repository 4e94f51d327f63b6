"""Writes of an agent's weekly rota from the back office's shift grid (whole hours).

The grid shows each weekday as 24 hours; a shift that starts or ends within an hour shows
that hour as partly on. A weekday whose hours were not changed keeps its shifts exactly
(minutes included); a changed one is written again as runs of whole hours. Changing the time
zone writes every day again in the new zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from django.db import transaction

from helpdesk.models import Agent
from privacy import audit
from routing.models import Shift

# A shift until midnight ends at the last instant of the day (a time has no 24:00).
END_OF_DAY = time.max


@dataclass(frozen=True)
class Week:
    """An agent's rota as the grid shows it: per weekday (Monday 0), the hours fully on
    shift and those partly on; and the time zone of their shifts."""

    zone: str
    full: dict[int, frozenset[int]]
    partial: dict[int, frozenset[int]]


def _minutes(t: time) -> int:
    return 24 * 60 if t == END_OF_DAY else t.hour * 60 + t.minute


def week_of(agent_id: int, default_zone: str = "UTC") -> Week:
    shifts = list(Shift.objects.filter(agent_id=agent_id))
    full: dict[int, set[int]] = {d: set() for d in range(7)}
    partial: dict[int, set[int]] = {d: set() for d in range(7)}
    for s in shifts:
        start, end = _minutes(s.starts), _minutes(s.ends)
        for hour in range(start // 60, (end + 59) // 60):
            covered = min(end, (hour + 1) * 60) - max(start, hour * 60)
            (full if covered >= 60 else partial)[s.weekday].add(hour)
    for day in range(7):
        partial[day] -= full[day]
    return Week(
        zone=shifts[0].timezone if shifts else default_zone,
        full={d: frozenset(h) for d, h in full.items()},
        partial={d: frozenset(h) for d, h in partial.items()},
    )


def runs(hours: set[int]) -> list[tuple[int, int]]:
    """Consecutive hours as [start, end) runs: {9, 10, 11, 14} → [(9, 12), (14, 15)]."""
    out: list[tuple[int, int]] = []
    for hour in sorted(hours):
        if out and out[-1][1] == hour:
            out[-1] = (out[-1][0], hour + 1)
        else:
            out.append((hour, hour + 1))
    return out


@transaction.atomic
def shifts_week_set(*, agent_id: int, zone: str, hours: dict[int, set[int]], user: Any) -> int:
    """Make the agent's weekly shifts the ``hours`` given (per weekday, whole hours in
    ``zone``). Returns how many weekdays were written; records it in the audit log."""
    before = week_of(agent_id, zone)
    changed = [
        day
        for day in range(7)
        if zone != before.zone or set(hours.get(day, set())) != set(before.full[day])
    ]
    if not changed:
        return 0
    Shift.objects.filter(agent_id=agent_id, weekday__in=changed).delete()
    Shift.objects.bulk_create(
        Shift(
            agent_id=agent_id,
            weekday=day,
            starts=time(start),
            ends=time(end) if end < 24 else END_OF_DAY,
            timezone=zone,
        )
        for day in changed
        for start, end in runs(set(hours.get(day, set())))
    )
    agent = Agent.objects.get(pk=agent_id)
    audit.record(
        action=audit.Action.SHIFTS,
        actor_id=user.pk,
        actor_name=user.get_username(),
        target=f"helpdesk.agent:{agent_id}",
        target_repr=agent.display_name,
        group_id=agent.groups.order_by("pk").values_list("pk", flat=True).first(),
        detail={"weekdays": changed, "zone": zone},
    )
    return len(changed)
