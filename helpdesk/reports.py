"""Back-office figures for managers: volume, response times, agents, demand against
coverage, notifications. Reads only; every figure in the chosen time zone; aggregates in SQL,
with percentiles taken in Python over one column of per-conversation durations.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import (
    Avg,
    BooleanField,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay, TruncDate
from django.utils import timezone

from helpdesk.models import Agent, Conversation, Message, Rating, SatisfactionScale
from notifications.models import Notification
from offline.models import OfflineMessage
from routing import selectors as routing_selectors
from routing import shifts
from routing.hours import open_seconds


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    zone: ZoneInfo
    site_id: Any = None
    group_id: int | None = None
    agent_id: int | None = None
    # What the person may see (helpdesk.access.visible); None: everything.
    scope: QuerySet[Conversation] | None = None
    # The agents the person may see figures of (helpdesk.access.agents_in_reach); None: all.
    people: QuerySet[Agent, Any] | None = None
    # Count waiting time only while the team is open (its business hours).
    business_hours: bool = False

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=self.zone)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=self.zone)

    def _narrowed(self, qs: QuerySet[Any], to: str = "") -> QuerySet[Any]:
        """``qs`` limited to the chosen site, team, agent and what the person may see;
        ``to``: the path to the conversation ("" for conversations themselves)."""
        if self.site_id:
            qs = qs.filter(**{f"{to}site_id": self.site_id})
        if self.group_id:
            qs = qs.filter(**{f"{to}group_id": self.group_id})
        if self.agent_id:
            qs = qs.filter(**{f"{to}assigned_agent_id": self.agent_id})
        if self.scope is not None:
            qs = qs.filter(**{f"{to}pk__in": self.scope.values("pk")})
        return qs

    def conversations(self) -> QuerySet[Conversation]:
        return self._narrowed(
            Conversation.objects.filter(created_at__gte=self.since, created_at__lt=self.until)
        )

    def offline(self) -> QuerySet[OfflineMessage]:
        """Visitor messages the offline store kept for an agent, stored in the period."""
        qs = OfflineMessage.objects.filter(
            audience=OfflineMessage.Audience.AGENT,
            created_at__gte=self.since,
            created_at__lt=self.until,
        )
        return self._narrowed(qs, "conversation__")

    def messages(self, sender: str) -> QuerySet[Message]:
        qs = Message.objects.filter(
            sender=sender, created_at__gte=self.since, created_at__lt=self.until
        )
        return self._narrowed(qs, "conversation__")


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * fraction
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float | int | None]:
    return {"count": len(values), "median": percentile(values, 0.5), "p90": percentile(values, 0.9)}


# ---- volume -------------------------------------------------------------------------------------


def volume(f: Filters) -> list[dict[str, Any]]:
    """Per day: conversations by channel, visitor messages, and those that arrived while no
    agent was there to take them (kept in the offline store)."""
    days: dict[date, dict[str, Any]] = {}
    d = f.start
    while d <= f.end:
        days[d] = {
            "day": d,
            "conversations": 0,
            "web": 0,
            "app": 0,
            "mini_program": 0,
            "messages": 0,
            "offline": 0,
        }
        d += timedelta(days=1)
    for row in (
        f.conversations()
        .annotate(day=TruncDate("created_at", tzinfo=f.zone))
        .values("day", "channel")
        .annotate(n=Count("pk"))
    ):
        days[row["day"]]["conversations"] += row["n"]
        days[row["day"]][row["channel"]] = days[row["day"]].get(row["channel"], 0) + row["n"]
    # Two narrow counts, not a join of every message to the offline store.
    for qs, column in ((f.messages(Message.Sender.VISITOR), "messages"), (f.offline(), "offline")):
        for row in (  # type: ignore[assignment]  # a narrower row than the loop above
            qs.annotate(day=TruncDate("created_at", tzinfo=f.zone))
            .values("day")
            .annotate(n=Count("pk"))
            .order_by()
        ):
            days[row["day"]][column] = row["n"]
    for day in days.values():
        day["offline_share"] = day["offline"] / day["messages"] if day["messages"] else None
    return list(days.values())


# ---- response times ------------------------------------------------------------------------------


def first_responses(f: Filters) -> list[dict[str, Any]]:
    """One row per answered conversation: seconds from the visitor's first message to the
    first agent reply (within business hours only, if asked), who replied, its group, its
    channel, and whether it started with nobody online. Read from columns the conversation keeps."""
    rows = (
        f.conversations()
        .filter(first_visitor_at__isnull=False, first_response_at__isnull=False)
        .annotate(
            wait=ExpressionWrapper(
                F("first_response_at") - F("first_visitor_at"), output_field=DurationField()
            )
        )
    )
    columns = ["wait", "first_response_agent_id", "group_id", "started_offline", "channel"]
    if not f.business_hours:  # the common case: plain columns
        return [
            {"seconds": w.total_seconds(), "agent_id": a, "group_id": g, "offline": o, "channel": c}
            for w, a, g, o, c in rows.values_list(*columns)
        ]
    hours = routing_selectors.HoursCache()
    result = []
    for wait, agent_id, group_id, offline, channel, site_id, asked, answered in rows.values_list(
        *columns, "site_id", "first_visitor_at", "first_response_at"
    ):
        seconds = wait.total_seconds()
        team = hours(group_id, site_id)
        if team is not None:
            seconds = open_seconds(team, asked, answered)
        result.append(
            {
                "seconds": seconds,
                "agent_id": agent_id,
                "group_id": group_id,
                "offline": offline,
                "channel": channel,
            }
        )
    return result


# Percentiles sort every value of the period (500,000 reply waits at a million messages):
# with PostgreSQL's default 4 MB of sort memory that sort spills to disk and takes twice as
# long (bench/reports.py). Reports ask for more, for their own statement only.
SORT_MEMORY = "64MB"


@contextmanager
def sorting_cursor() -> Iterator[Any]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = %s", [SORT_MEMORY])
        yield cursor


def duration_summary(qs: QuerySet[Any], column: str) -> dict[str, float | int | None]:
    """count, median and p90 (seconds) of a duration column. On PostgreSQL the percentiles
    are taken in SQL with one sort, and no rows leave the database."""
    if connection.vendor == "postgresql":
        sql, params = qs.order_by().values(column).query.sql_with_params()
        with sorting_cursor() as cursor:
            # Django built ``sql`` and binds its params: nothing of the request is spliced in.
            percentiles = (
                "SELECT count(*), percentile_cont(ARRAY[0.5, 0.9]) "
                "WITHIN GROUP (ORDER BY extract(epoch FROM w)) FROM ({}) AS rows(w)"
            )
            cursor.execute(percentiles.format(sql), params)
            count, values = cursor.fetchone()
        median, p90 = values if values else (None, None)
        return {
            "count": count,
            "median": float(median) if median is not None else None,
            "p90": float(p90) if p90 is not None else None,
        }
    return summary([d.total_seconds() for d in qs.values_list(column, flat=True)])


PERCENTILES = "percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY extract(epoch FROM w))"


def duration_sets(
    qs: QuerySet[Any], duration: Any, keys: dict[str, Any], flags: dict[Any, Any] | None = None
) -> dict[str, Any]:
    """count, median and p90 (seconds) of ``duration``, and how many rows have each boolean
    of ``flags``, over all rows and per value of each of ``keys``: on PostgreSQL one query
    (GROUPING SETS: one scan, no rows leave the database), elsewhere in Python. Returns
    ``{"all": figures, key: {value: figures}}``."""
    flags = flags or {}
    ks = [f"k{i}" for i in range(len(keys))]
    fs = [f"f{i}" for i in range(len(flags))]
    annotated = qs.order_by().annotate(
        **dict(zip(ks, keys.values(), strict=True)),
        w=ExpressionWrapper(duration, output_field=DurationField()),
        **{
            n: ExpressionWrapper(c, output_field=BooleanField())
            for n, c in zip(fs, flags.values(), strict=True)
        },
    )
    columns = [*ks, "w", *fs]
    if connection.vendor != "postgresql":
        return _sets_in_python(list(annotated.values_list(*columns)), list(keys), list(flags))
    sql, params = annotated.values(*columns).query.sql_with_params()
    # Column names are ours (k0…, w, f0…); Django built ``sql`` and binds its params.
    selected = ", ".join([*ks, *(f"grouping({k})" for k in ks)])
    filtered = "".join(f", count(*) FILTER (WHERE {n})" for n in fs)
    sets = ", ".join(["()", *(f"({k})" for k in ks)])
    head = f"SELECT {selected}, count(*), {PERCENTILES}{filtered} FROM ("  # noqa: S608
    tail = f") AS rows({', '.join(columns)}) GROUP BY GROUPING SETS ({sets})"
    with sorting_cursor() as cursor:
        cursor.execute(head + sql + tail, params)
        rows = cursor.fetchall()
    result: dict[str, Any] = {
        "all": _figures(0, None, [0] * len(fs), list(flags)),
        **{k: {} for k in keys},
    }
    n = len(ks)
    for row in rows:
        values, grouped = row[:n], row[n : 2 * n]
        count, percentiles, counted = row[2 * n], row[2 * n + 1], row[2 * n + 2 :]
        figures = _figures(count, percentiles, counted, list(flags))
        if all(grouped):
            result["all"] = figures
        else:
            i = list(grouped).index(0)
            result[list(keys)[i]][values[i]] = figures
    return result


def _figures(count: int, percentiles: Any, counted: Any, flags: list[Any]) -> dict[Any, Any]:
    median, p90 = percentiles if percentiles else (None, None)
    return {
        "count": count,
        "median": float(median) if median is not None else None,
        "p90": float(p90) if p90 is not None else None,
        **dict(zip(flags, counted, strict=True)),
    }


def _sets_in_python(
    rows: list[tuple[Any, ...]], keys: list[str], flags: list[Any]
) -> dict[str, Any]:
    n = len(keys)
    buckets: dict[str, dict[Any, list[tuple[float, tuple[Any, ...]]]]] = {"all": {None: []}}
    for key in keys:
        buckets[key] = defaultdict(list)
    for row in rows:
        item = (row[n].total_seconds(), row[n + 1 :])
        buckets["all"][None].append(item)
        for i, key in enumerate(keys):
            buckets[key][row[i]].append(item)

    def figures(items: list[tuple[float, tuple[Any, ...]]]) -> dict[Any, Any]:
        return {
            **summary([s for s, _ in items]),
            **{flag: sum(1 for _, marks in items if marks[j]) for j, flag in enumerate(flags)},
        }

    return {
        "all": figures(buckets["all"][None]),
        **{key: {v: figures(items) for v, items in buckets[key].items()} for key in keys},
    }


def reply_times(f: Filters) -> dict[str, float | int | None]:
    """Every agent reply in the period: how long the visitor had been waiting for it."""
    replies = f.messages(Message.Sender.AGENT).filter(answered_wait__isnull=False)
    return duration_summary(replies, "answered_wait")


WAIT_THRESHOLDS = (60, 300, 1800, 3600)


def _summaries_by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    """First-response summaries per group or per agent."""
    seconds: dict[Any, list[float]] = defaultdict(list)
    for r in rows:
        seconds[r[key]].append(r["seconds"])
    return {k: summary(v) for k, v in seconds.items()}


def unanswered_waits(f: Filters) -> list[float]:
    """Seconds each conversation with no answer has waited: until now, or until it was
    resolved unanswered (in business hours only, if asked). One query."""
    now = timezone.now()
    hours = routing_selectors.HoursCache() if f.business_hours else None
    waits = []
    for asked, resolved, group_id, site_id in (
        f.conversations()
        .filter(first_visitor_at__isnull=False, first_response_at__isnull=True)
        .values_list("first_visitor_at", "resolved_at", "group_id", "site_id")
    ):
        assert asked is not None  # filtered on it above
        until = max(asked, resolved or now)
        team = hours(group_id, site_id) if hours is not None else None
        waits.append(open_seconds(team, asked, until) if team else (until - asked).total_seconds())
    return waits


def waited_past(answered_past: dict[int, int], waits: list[float]) -> dict[str, int]:
    """Per threshold: conversations first answered after it (``answered_past``), or waiting
    (or left) unanswered for longer than it. Each counts in the buckets its own wait passed."""
    return {
        f"{t // 60} min": answered_past[t] + sum(1 for w in waits if w > t) for t in WAIT_THRESHOLDS
    }


def _plain(figures: dict[Any, Any]) -> dict[str, Any]:
    return {k: figures[k] for k in ("count", "median", "p90")}


FIRST_WAIT = F("first_response_at") - F("first_visitor_at")


def _answered(f: Filters) -> QuerySet[Conversation]:
    return f.conversations().filter(first_visitor_at__isnull=False, first_response_at__isnull=False)


def first_responses_by_agent(f: Filters) -> dict[Any, dict[str, Any]]:
    """Only the per-agent first-response summaries (the agents table alone)."""
    if f.business_hours:
        return _summaries_by(first_responses(f), "agent_id")
    by = duration_sets(_answered(f), FIRST_WAIT, keys={"agent": F("first_response_agent_id")})
    return {k: _plain(v) for k, v in by["agent"].items()}


def first_response_figures(f: Filters) -> dict[str, Any]:
    """First responses: overall, for those that started offline, per group and per agent,
    and how many were answered after each of ``WAIT_THRESHOLDS``. In business hours only
    (Python, per conversation's team hours) or, the common case, in one grouped query."""
    if f.business_hours:
        rows = first_responses(f)
        return {
            "overall": summary([r["seconds"] for r in rows]),
            "started_offline": summary([r["seconds"] for r in rows if r["offline"]]),
            "by_group": _summaries_by(rows, "group_id"),
            "by_agent": _summaries_by(rows, "agent_id"),
            "by_channel": _summaries_by(rows, "channel"),
            "answered_past": {t: sum(1 for r in rows if r["seconds"] > t) for t in WAIT_THRESHOLDS},
        }
    sets = duration_sets(
        _answered(f),
        FIRST_WAIT,
        keys={
            "group": F("group_id"),
            "agent": F("first_response_agent_id"),
            "offline": F("started_offline"),
            "channel": F("channel"),
        },
        flags={
            t: Q(first_response_at__gt=F("first_visitor_at") + timedelta(seconds=t))
            for t in WAIT_THRESHOLDS
        },
    )
    return {
        "overall": _plain(sets["all"]),
        "started_offline": _plain(sets["offline"].get(True) or summary([])),
        "by_group": {k: _plain(v) for k, v in sets["group"].items()},
        "by_agent": {k: _plain(v) for k, v in sets["agent"].items()},
        "by_channel": {k: _plain(v) for k, v in sets["channel"].items()},
        "answered_past": {t: sets["all"][t] for t in WAIT_THRESHOLDS},
    }


def responses(f: Filters) -> dict[str, Any]:
    first = first_response_figures(f)
    offline = (
        f.offline()
        .filter(delivered_at__isnull=False)
        .annotate(
            wait=ExpressionWrapper(
                F("delivered_at") - F("created_at"), output_field=DurationField()
            )
        )
    )
    waits = unanswered_waits(f)
    return {
        "waited_past": waited_past(first["answered_past"], waits),
        "unanswered": len(waits),
        "overall": first["overall"],
        "next_reply": reply_times(f),
        "started_offline": first["started_offline"],
        "by_group": first["by_group"],
        "by_agent": first["by_agent"],
        # Web, app and mini-program: how fast each channel's visitors were first answered.
        "by_channel": first["by_channel"],
        "offline_until_delivered": duration_summary(offline, "wait"),
    }


# ---- agents ------------------------------------------------------------------------------------


def agents(f: Filters, by_agent: dict[Any, Any] | None = None) -> list[dict[str, Any]]:
    handled = dict(
        f.conversations()
        .exclude(assigned_agent=None)
        .values_list("assigned_agent")
        .annotate(n=Count("pk"))
    )
    replies = dict(f.messages(Message.Sender.AGENT).values_list("agent").annotate(n=Count("pk")))
    if by_agent is None:  # only what this table shows, not the whole responses report
        by_agent = first_responses_by_agent(f)
    # Who worked in the period, or was meant to: handled or replied, or has shifts.
    people = list(
        _agents(f)
        .filter(Q(pk__in={*handled, *replies}) | Q(shifts__isnull=False))
        .distinct()
        .order_by("display_name")
    )
    ids = [a.pk for a in people]
    planned = shifts.planned(ids, f.since, f.until)
    online = shifts.online(ids, f.since, f.until)
    return [
        {
            "agent": a.display_name,
            "conversations": handled.get(a.pk, 0),
            "replies": replies.get(a.pk, 0),
            "median_first_response": (by_agent.get(a.pk) or {}).get("median"),
            "online_hours": round(shifts.hours(online.get(a.pk, [])), 2),
            "scheduled_hours": round(shifts.hours(planned.get(a.pk, [])), 2),
        }
        for a in people
    ]


def _agents(f: Filters) -> QuerySet[Agent]:
    qs = Agent.objects.all() if f.people is None else Agent.objects.filter(pk__in=f.people)
    if f.group_id:
        qs = qs.filter(groups=f.group_id)
    if f.agent_id:
        qs = qs.filter(pk=f.agent_id)
    return qs.distinct()


# ---- demand against coverage ---------------------------------------------------------------------


def erlang_c_agents(
    calls_per_hour: float, handle_seconds: float, answer_within: float, target: float = 0.8
) -> int:
    """The fewest agents so that ``target`` of conversations are answered within
    ``answer_within`` seconds (Erlang C, one conversation per agent at a time)."""
    if calls_per_hour <= 0:
        return 0
    load = calls_per_hour * handle_seconds / 3600  # offered load in erlangs
    n = max(1, math.ceil(load))
    while n < 1000:
        if n > load:
            # Erlang C probability of waiting.
            top = load**n / math.factorial(n) * n / (n - load)
            bottom = sum(load**k / math.factorial(k) for k in range(n)) + top
            waiting = top / bottom
            service = 1 - waiting * math.exp(-(n - load) * answer_within / handle_seconds)
            if service >= target:
                return n
        n += 1
    return n


def demand(f: Filters, *, handle_seconds: float = 300, answer_within: float = 60) -> dict[str, Any]:
    """By weekday and hour: average new conversations per hour over the period, and the agents
    Erlang C suggests for answering 80% within ``answer_within`` seconds."""
    weeks = max(1.0, ((f.end - f.start).days + 1) / 7)
    counts = {
        (row["weekday"], row["hour"]): row["n"]
        for row in f.conversations()
        .annotate(
            weekday=ExtractIsoWeekDay("created_at", tzinfo=f.zone),
            hour=ExtractHour("created_at", tzinfo=f.zone),
        )
        .values("weekday", "hour")
        .annotate(n=Count("pk"))
    }
    team = list(_agents(f).values_list("pk", flat=True))
    on_shift = shifts.coverage(shifts.planned(team, f.since, f.until), f.since, f.until, f.zone)
    grid = []
    for weekday in range(1, 8):
        row = []
        for hour in range(24):
            rate = counts.get((weekday, hour), 0) / weeks
            scheduled = on_shift[weekday - 1][hour]
            row.append(
                {
                    "rate": rate,
                    "agents": erlang_c_agents(rate, handle_seconds, answer_within),
                    "scheduled": round(scheduled, 1),
                    "gap": rate > 0 and scheduled == 0,  # demand, and nobody on shift
                }
            )
        grid.append(row)
    return {"grid": grid, "handle_seconds": handle_seconds, "answer_within": answer_within}


# ---- notifications ---------------------------------------------------------------------------------


def service(f: Filters) -> list[dict[str, Any]]:
    qs = Notification.objects.filter(conversation__in=f.conversations().values("pk"))
    rows = (
        qs.values("reason", "channel", "level", "status")
        .annotate(n=Count("pk"))
        .order_by("reason", "level", "channel", "status")
    )
    return cast(list[dict[str, Any]], list(rows))


# ---- satisfaction ---------------------------------------------------------------------------------

# A rating counts as satisfied at 4 or 5 ("good" on the two-point scale is kept as 5).
SATISFIED = 4
_RATED = {
    "count": Count("pk"),
    "satisfied": Count("pk", filter=Q(score__gte=SATISFIED)),
    "average": Avg("score", filter=Q(scale=SatisfactionScale.FIVE)),
}


def _rated(row: dict[str, Any]) -> dict[str, Any]:
    count = row["count"] or 0
    return {
        "count": count,
        "satisfied_share": row["satisfied"] / count if count else None,
        "average": round(row["average"], 2) if row["average"] is not None else None,
    }


def satisfaction(f: Filters) -> dict[str, Any]:
    """Ratings of the period's conversations: how many, the share satisfied, the average on
    the 1-5 scale; overall and by the conversation's agent, team and tags (a conversation
    with two tags counts for both). Four grouped queries."""
    ratings = Rating.objects.filter(conversation__in=f.conversations().values("pk"))

    def by(column: str) -> dict[Any, dict[str, Any]]:
        rows = cast(
            Iterable[dict[str, Any]], ratings.values(key=F(column)).annotate(**_RATED).order_by()
        )
        return {r["key"]: _rated(r) for r in rows}

    return {
        "overall": _rated(ratings.aggregate(**_RATED)),
        "by_agent": by("conversation__assigned_agent"),
        "by_group": by("conversation__group"),
        "by_tag": {k: v for k, v in by("conversation__tags").items() if k is not None},
    }


# ---- resolution and reopening -----------------------------------------------------------------------

# A resolved conversation is "reopened" when its visitor writes again within this window
# (a new conversation: the visitor's next message after a resolve starts one).
REOPEN_WINDOW = timedelta(days=7)


def resolution(f: Filters) -> dict[str, Any]:
    """Of the period's resolved conversations: how long from the visitor's first message to
    the resolve (median, p90), and the share reopened (the visitor wrote again within
    ``REOPEN_WINDOW``); overall, by team and by agent. One grouped query on PostgreSQL."""
    resolved = f.conversations().filter(
        status=Conversation.Status.RESOLVED, resolved_at__isnull=False
    )
    later = Conversation.objects.filter(
        visitor=OuterRef("visitor"),
        created_at__gt=OuterRef("resolved_at"),
        created_at__lte=ExpressionWrapper(
            OuterRef("resolved_at") + Value(REOPEN_WINDOW), output_field=DateTimeField()
        ),
    )
    sets = duration_sets(
        resolved,
        F("resolved_at") - Coalesce("first_visitor_at", "created_at"),
        keys={"group": F("group_id"), "agent": F("assigned_agent_id")},
        flags={"reopened": Exists(later)},
    )

    def reopened(figures: dict[str, Any]) -> dict[str, Any]:
        n = figures["count"]
        rate = figures["reopened"] / n if n else None
        return {**_plain(figures), "reopened": figures["reopened"], "reopen_rate": rate}

    return {
        "overall": reopened(sets["all"]),
        "by_group": {k: reopened(v) for k, v in sets["group"].items()},
        "by_agent": {k: reopened(v) for k, v in sets["agent"].items()},
    }


# ---- tags ------------------------------------------------------------------------------------------


def tags(f: Filters) -> dict[int, dict[str, Any]]:
    """Conversations of the period per tag (one conversation may carry several)."""
    through = Conversation.tags.through
    rows = (
        through.objects.filter(conversation__in=f.conversations().values("pk"))
        .values("tag_id", "tag__name", "tag__color")
        .annotate(n=Count("pk"))
        .order_by("-n", "tag__name")
    )
    return {
        r["tag_id"]: {"name": r["tag__name"], "color": r["tag__color"], "conversations": r["n"]}
        for r in rows
    }
