"""/metrics for Prometheus: the hot-path counters of every process (helpdesk.metrics) and
the figures that live in PostgreSQL and the broker, read when scraped with bounded queries.

Protected by a bearer token (``METRICS_TOKEN``): without one set, the endpoint does not
exist (404). The token, not the client's address, decides: behind the reverse proxy every
request comes from the proxy's address.
"""

from __future__ import annotations

import glob
import hmac
import logging
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from helpdesk.celery import app
from notifications.models import Notification
from offline.models import OfflineMessage

log = logging.getLogger(__name__)

# Scrape-time queries stop counting here: past it the figure reads "at least this many", and
# a scrape stays a few index reads whatever the backlog.
COUNT_CAP = 100_000
NOTIFICATION_WINDOW = timedelta(hours=1)


class StoreCollector:
    """Figures that live in the database and the broker, read at scrape time."""

    def collect(self) -> Iterator[Metric]:
        yield from self._offline()
        yield from self._notifications()
        yield from self._queue()

    def _offline(self) -> Iterator[Metric]:

        pending = GaugeMetricFamily(
            "helpdesk_offline_pending",
            f"Offline messages waiting for their recipient (counted up to {COUNT_CAP}).",
            labels=["audience"],
        )
        oldest = GaugeMetricFamily(
            "helpdesk_offline_oldest_pending_seconds",
            "Age of the oldest offline message still waiting (0: none waiting).",
            labels=["audience"],
        )
        now = timezone.now()
        for audience in OfflineMessage.Audience.values:
            rows = OfflineMessage.objects.filter(
                state=OfflineMessage.State.PENDING, audience=audience
            ).order_by("created_at")
            first = rows.values_list("created_at", flat=True).first()
            pending.add_metric([audience], rows.values("id")[:COUNT_CAP].count())
            oldest.add_metric([audience], (now - first).total_seconds() if first else 0.0)
        yield pending
        yield oldest

    def _notifications(self) -> Iterator[Metric]:

        family = GaugeMetricFamily(
            "helpdesk_notifications_recent",
            "Notifications created in the last hour, by channel and status (pending, sending, "
            f"sent, skipped, failed); the newest {COUNT_CAP} rows at most.",
            labels=["channel", "status"],
        )
        top = Notification.objects.aggregate(top=Max("id"))["top"] or 0
        counts = {
            (row["channel"], row["status"]): row["n"]
            for row in Notification.objects.filter(
                id__gt=top - COUNT_CAP, created_at__gte=timezone.now() - NOTIFICATION_WINDOW
            )
            .order_by()
            .values("channel", "status")
            .annotate(n=Count("id"))
        }
        for channel in Notification.Channel.values:
            for status in Notification.Status.values:
                family.add_metric([channel, status], counts.get((channel, status), 0))
        yield family

    def _queue(self) -> Iterator[Metric]:
        if settings.CELERY_TASK_ALWAYS_EAGER or settings.CELERY_BROKER_URL.startswith("memory"):
            return
        from kombu.exceptions import ChannelError

        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        family = GaugeMetricFamily(
            "helpdesk_celery_queue_depth",
            "Tasks waiting in the broker's queue for a worker.",
            labels=["queue"],
        )
        try:
            with app.connection_for_read() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
                try:
                    channel: Any = conn.default_channel
                    depth = channel.queue_declare(queue=queue, passive=True)[1]
                except ChannelError:  # an empty queue does not exist in Redis
                    depth = 0
        except Exception as exc:
            log.warning("metrics: the broker's queue depth could not be read (%s)", exc)
            return
        family.add_metric([queue], depth)
        yield family


def _forget_dead_processes(path: str) -> None:
    """Sockets-open gauges of processes that died without saying so (kill -9, OOM) would
    count their sockets for ever: their files go. Every process writing to the directory
    runs on this machine, so a missing PID is a dead one."""
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid = int(name.rsplit("_", 1)[1].removesuffix(".db"))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:
            pass  # alive, another user's


def exposition() -> bytes:
    stores = CollectorRegistry()
    stores.register(StoreCollector())
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        _forget_dead_processes(path)
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes, path)
        return generate_latest(processes) + generate_latest(stores)
    return generate_latest(REGISTRY) + generate_latest(stores)


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off (set METRICS_TOKEN).")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        response = HttpResponse("A bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
