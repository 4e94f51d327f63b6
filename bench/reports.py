"""`report`: the back-office reports over a seeded history (seed_volume), each timed against
a raw baseline in the same run: one SQL pass over the same messages.

    BENCH_REPORT_CONVERSATIONS=20000 make bench   # a smaller history (default: 100,000 / 1,000,000)
"""

from __future__ import annotations

import os

os.environ.setdefault("BENCH_DB", "helpdesk_bench_volume")

import statistics
import time
from datetime import timedelta

from common import VOLUME_CONVERSATIONS, VOLUME_MESSAGES, record, seeded_volume
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk import dashboard, reports
from helpdesk.access import Actor
from helpdesk.models import Message


def timed(fn, repeat: int = 3) -> tuple[float, int]:
    runs, queries = [], 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            fn()
            runs.append((time.perf_counter() - start) * 1000)
        queries = len(captured.captured_queries)
    return statistics.median(runs), queries


def main() -> None:
    seeded_s = seeded_volume()
    today = timezone.now().date()
    f = reports.Filters(
        start=today - timedelta(days=89), end=today, zone=timezone.get_current_timezone()
    )

    def baseline() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), min(created_at), max(created_at) FROM helpdesk_message "
                "WHERE created_at >= %s AND created_at < %s",
                [f.since, f.until],
            )
            cursor.fetchall()

    base_ms, _ = timed(baseline)
    superuser = Actor(user_id=0, superuser=True)  # the dashboard of someone who sees everything
    figures = {}
    for name, fn in [
        ("volume", lambda: reports.volume(f)),
        ("responses", lambda: reports.responses(f)),
        ("agents", lambda: reports.agents(f)),
        ("demand", lambda: reports.demand(f)),
        ("service", lambda: reports.service(f)),
        ("satisfaction", lambda: reports.satisfaction(f)),
        ("resolution", lambda: reports.resolution(f)),
        ("tags", lambda: reports.tags(f)),
        ("dashboard", lambda: dashboard.figures(superuser)),
    ]:
        ms, queries = timed(fn)
        figures[name] = {
            "ms": round(ms, 1),
            "queries": queries,
            "ratio_to_baseline": round(ms / base_ms, 1),
        }
        print(f"{name:10s} {ms:8.1f} ms  {queries:3d} queries  {ms / base_ms:6.1f}x baseline")
    print(f"baseline   {base_ms:8.1f} ms (one SQL pass over {Message.objects.count()} messages)")
    record(
        "report",
        {
            "conversations": VOLUME_CONVERSATIONS,
            "messages": VOLUME_MESSAGES,
            "seeded_in_s": round(seeded_s, 1),
            "baseline_ms": round(base_ms, 1),
            "reports": figures,
            "target_ms": 1000,
        },
    )


if __name__ == "__main__":
    main()
