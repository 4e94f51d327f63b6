"""`reminder_scan`: one Celery beat tick of the notifications scan over 1,000,000 stored
messages (the seed_volume history shared with `report`), with a live slice on top.

The live slice is made through the same services the sockets use: LIVE visitors each write
two messages while nobody is online; half of those conversations are then assigned to an
agent who has not read them, and half of those get an agent reply the visitor (whose email
is verified) has not seen. The tick runs with its clock 15 minutes later, when every
reminder, escalation and follow-up is due:
- the first tick creates the notifications and enqueues one delivery per recipient;
- the next ticks (steady state: nothing new, what the first made marked sent as the workers
  would have) are what beat pays every 30 s.
Deliveries are enqueued on the real Redis broker and purged afterwards (no worker runs here).
"""

from __future__ import annotations

import os

os.environ.setdefault("BENCH_DB", "helpdesk_bench_volume")

import statistics
import time
import uuid
from datetime import timedelta

from common import VOLUME_MESSAGES, record, seeded_volume
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk import services
from helpdesk.models import Agent, Conversation, Message, Site, Visitor
from notifications import services as notifications
from notifications.models import Notification

LIVE = 600
TARGET_MS = 100


def live_slice() -> None:
    Notification.objects.all().delete()
    Conversation.objects.filter(status=Conversation.Status.OPEN).delete()
    sites = list(Site.objects.select_related("default_group").order_by("name"))
    now = timezone.now()
    # People to remind: agents and one manager per team have addresses.
    get_user_model().objects.filter(agent__isnull=False).update(
        email=Concat(F("username"), Value("@example.com"))
    )
    for site in sites:
        manager, _ = get_user_model().objects.get_or_create(
            username=f"manager-{site.pk}", defaults={"email": f"manager-{site.pk}@example.com"}
        )
        site.default_group.managers.add(manager)
    for i in range(LIVE):
        visitor = Visitor.objects.create(
            site=sites[i % len(sites)],
            email=f"visitor{i}@example.com",
            email_verified_at=now if i % 4 == 0 else None,
        )
        for text in ("Hello?", "Is anyone there?"):
            services.message_send_by_visitor(visitor=visitor, client_id=uuid.uuid4(), body=text)
    # Each site's first agent takes half of the waiting conversations.
    first_agent = {
        site.pk: Agent.objects.filter(groups__default_for_sites=site).order_by("pk").first()
        for site in sites
    }
    waiting = list(
        Conversation.objects.filter(status=Conversation.Status.OPEN).order_by("created_at")
    )
    for i, conversation in enumerate(waiting[: LIVE // 2]):
        agent = first_agent[conversation.site_id]
        Conversation.objects.filter(pk=conversation.pk).update(
            assigned_agent=agent, assigned_at=now
        )
        if i % 2 == 0 and agent is not None:
            conversation.refresh_from_db()
            services.message_send_by_agent(
                agent=agent, conversation=conversation, client_id=uuid.uuid4(), body="On it."
            )


def tick(now) -> tuple[float, int, dict[str, int]]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        start = time.perf_counter()
        result = notifications.scan(now=now)
        ms = (time.perf_counter() - start) * 1000
    return ms, len(captured.captured_queries), result


def main() -> None:
    seeded_s = seeded_volume()
    live_slice()
    messages = Message.objects.count()
    later = timezone.now() + timedelta(minutes=15)
    first_ms, first_queries, created = tick(later)
    # What the workers would have done meanwhile (none runs here): everything sent.
    Notification.objects.update(status=Notification.Status.SENT, sent_at=later)
    steady = [tick(later) for _ in range(5)]
    steady_ms = statistics.median(ms for ms, _, _ in steady)
    steady_queries = steady[-1][1]
    from helpdesk.celery import app

    purged = app.control.purge()
    print(
        f"reminder_scan over {messages:,} messages: first tick {first_ms:.1f} ms "
        f"({first_queries} queries, created {created}), steady tick {steady_ms:.1f} ms "
        f"({steady_queries} queries); {purged} enqueued deliveries purged"
    )
    record(
        "reminder_scan",
        {
            "messages": messages,
            "seeded_messages": VOLUME_MESSAGES,
            "seeded_in_s": round(seeded_s, 1),
            "live_conversations": LIVE,
            "first_tick": {
                "ms": round(first_ms, 1),
                "queries": first_queries,
                "notifications_made": sum(n for k, n in created.items() if k != "deliveries"),
                **created,
            },
            "steady_tick": {"ms": round(steady_ms, 1), "queries": steady_queries},
            "target_ms": TARGET_MS,
        },
    )


if __name__ == "__main__":
    main()
