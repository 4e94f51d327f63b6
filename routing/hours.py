"""Business hours: open or closed at an instant, and when the team is next in.

Opening periods are local wall-clock times in the schedule's own time zone, so 09:00-18:00
stays 09:00-18:00 across a DST change. A wall-clock time that does not exist that day (the
spring-forward gap) opens at the first instant after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Hours:
    """A schedule as plain data: ``periods`` are (weekday, opens, closes), weekday 0 = Monday."""

    timezone: str
    periods: tuple[tuple[int, time, time], ...]
    holidays: frozenset[date] = frozenset()

    @classmethod
    def of(cls, schedule: object) -> Hours:
        """From a ``routing.models.Schedule`` with ``periods`` and ``holidays`` prefetched."""
        return cls(
            timezone=schedule.timezone,  # type: ignore[attr-defined]
            periods=tuple((p.weekday, p.opens, p.closes) for p in schedule.periods.all()),  # type: ignore[attr-defined]
            holidays=frozenset(h.date for h in schedule.holidays.all()),  # type: ignore[attr-defined]
        )


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant a wall clock in ``zone`` shows ``at`` on ``day`` (after a gap, its end)."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive:
        return aware
    # In the spring-forward gap: the two readings of the wall time fall either side of the
    # transition; the first real instant after the gap is the transition itself.
    before = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = aware.astimezone(UTC)
    lo, hi = min(before, after), max(before, after)
    new_offset = hi.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == new_offset:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0).astimezone(zone)


def _intervals(hours: Hours, day: date) -> list[tuple[datetime, datetime]]:
    if day in hours.holidays:
        return []
    zone = ZoneInfo(hours.timezone)
    return [
        (_local(day, opens, zone), _local(day, closes, zone))
        for weekday, opens, closes in hours.periods
        if weekday == day.weekday()
    ]


def is_open(hours: Hours, at: datetime) -> bool:
    local_day = at.astimezone(ZoneInfo(hours.timezone)).date()
    return any(start <= at < end for start, end in _intervals(hours, local_day))


def next_open(hours: Hours, at: datetime, *, horizon_days: int = 60) -> datetime | None:
    """``at`` itself when open; else the next opening within the horizon; None if never."""
    if is_open(hours, at):
        return at
    local_day = at.astimezone(ZoneInfo(hours.timezone)).date()
    for offset in range(horizon_days + 1):
        starts = sorted(
            s for s, _ in _intervals(hours, local_day + timedelta(days=offset)) if s > at
        )
        if starts:
            return starts[0].astimezone(UTC)
    return None


def opened_at(hours: Hours, at: datetime) -> datetime | None:
    """When the opening containing ``at`` began, following back-to-back periods (such as
    22:00-24:00 then 00:00-06:00) back to where the team came in; None when closed."""
    if not is_open(hours, at):
        return None
    zone = ZoneInfo(hours.timezone)
    start = at
    for _ in range(8):  # a schedule open around the clock: a week back is far enough
        day = start.astimezone(zone).date()
        intervals = _intervals(hours, day) + _intervals(hours, day - timedelta(days=1))
        # Back to back: the earlier period ends at (or within a minute of) this one's start.
        earlier = [s for s, e in intervals if s < start <= e + timedelta(minutes=1)]
        if not earlier:
            break
        start = min(earlier)
    return start.astimezone(UTC)


def open_seconds(hours: Hours, start: datetime, end: datetime) -> float:
    """How much of [start, end) falls within opening hours (for "business hours only" times)."""
    if end <= start:
        return 0.0
    zone = ZoneInfo(hours.timezone)
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    total = 0.0
    while day <= last:
        for opens, closes in _intervals(hours, day):
            overlap = (min(closes, end) - max(opens, start)).total_seconds()
            total += max(0.0, overlap)
        day += timedelta(days=1)
    return total
