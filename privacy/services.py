"""Privacy writes: erase a visitor on request, and prune what is past retention.

Deleting goes through ``purge``: the rows of a queryset and, leaf first, every row that
cascades from them, one statement per related table. Django's own ``delete()`` loads the
rows and deletes them a hundred at a time, so its query count grows with the rows; this
one's does not (tests/privacy holds both to it).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from helpdesk.models import Conversation, Message, Site, Visitor
from notifications.models import Notification, ResumeGrant
from offline.models import OfflineMessage
from privacy import audit
from routing.models import OnlineSession

log = logging.getLogger(__name__)

Counts = Counter[str]


def purge(qs: QuerySet[Any]) -> Counts:
    """Delete ``qs``'s rows and everything that cascades from them, leaf first: one DELETE
    per table (an UPDATE for SET_NULL), whatever the number of rows. Returns rows deleted
    per model label. Raises ``models.ProtectedError`` for a PROTECT relation with rows."""
    model = qs.model
    counts: Counts = Counter()
    for field in model._meta.local_many_to_many:  # e.g. a conversation's tags
        through = field.remote_field.through
        counts += _raw(through._base_manager.filter(**{f"{field.m2m_field_name()}__in": qs}))
    for rel in _reverse_relations(model):
        if rel.many_to_many:  # the other side of a many-to-many: its through rows
            through = rel.through
            column = rel.field.m2m_reverse_field_name()
            counts += _raw(through._base_manager.filter(**{f"{column}__in": qs}))
            continue
        related = rel.related_model._base_manager.filter(**{f"{rel.field.name}__in": qs})
        on_delete = rel.on_delete
        if on_delete is models.CASCADE:
            counts += purge(related)
        elif on_delete is models.SET_NULL:
            related.update(**{rel.field.name: None})
        elif on_delete is not models.DO_NOTHING and related.exists():
            raise models.ProtectedError(f"{rel.related_model._meta.label} refers to it", set())
    return counts + _raw(qs)


def _reverse_relations(model: type[models.Model]) -> list[Any]:
    # Every relation pointing at ``model``, the hidden ones (``related_name="+"``) included:
    # ``_meta.related_objects`` leaves those out, and their rows would outlive ours.
    return [
        f
        for f in model._meta.get_fields(include_hidden=True)
        if f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one or f.many_to_many)
    ]


def _raw(qs: QuerySet[Any]) -> Counts:
    # Django's single-statement delete, without loading rows (what its fast deletes use).
    deleted = qs._raw_delete(qs.db)
    return Counter({qs.model._meta.label_lower: deleted}) if deleted else Counter()


# ---- attachments --------------------------------------------------------------------------------


def attachment_files_delete(messages: QuerySet[Message]) -> int:
    """The hook for attachments' files: messages have none yet. When they do, their rows
    cascade from the messages through ``purge``, and their stored files are deleted here
    (called before the rows go, by erasure and pruning alike)."""
    return 0


# ---- erasure -------------------------------------------------------------------------------------


@transaction.atomic
def visitor_erase(*, visitor_id: Any, user: Any) -> Counts:
    """Erase a visitor on request: their conversations, messages, ratings, records,
    notifications (with the address they went to), push subscriptions and resume grants;
    Django's admin history names them by ID only from now on. The audit log keeps who erased
    which ID. The caller checked ``user`` may (``privacy.selectors.may_handle_visitor``)."""
    visitor = Visitor.objects.select_for_update().get(pk=visitor_id)
    conversations = Conversation.objects.filter(visitor_id=visitor.pk)
    _scrub_admin_history(visitor, conversations)
    audit.forget_reasons(list(conversations.values_list("pk", flat=True)))
    attachment_files_delete(Message.objects.filter(conversation__in=conversations))
    counts = purge(Visitor.objects.filter(pk=visitor.pk))
    audit.record(
        action=audit.Action.ERASE,
        actor_id=user.pk,
        actor_name=user.get_username(),
        target=f"helpdesk.visitor:{visitor.pk}",
        target_repr=f"visitor {visitor.pk}",
        site_id=visitor.site_id,
        detail={"deleted": dict(counts)},
    )
    return counts


def _scrub_admin_history(visitor: Visitor, conversations: QuerySet[Conversation]) -> None:
    """Django admin's history kept the visitor's name as the object's label."""
    kinds = ContentType.objects.get_for_models(Visitor, Conversation)
    ids = [str(visitor.pk), *(str(pk) for pk in conversations.values_list("pk", flat=True))]
    LogEntry.objects.filter(content_type__in=list(kinds.values()), object_id__in=ids).update(
        object_repr="(erased)", change_message=""
    )


def visitor_exported(*, visitor: Visitor, user: Any) -> None:
    """An export is recorded in the audit log (what was exported: the visitor's ID)."""
    audit.record(
        action=audit.Action.EXPORT,
        actor_id=user.pk,
        actor_name=user.get_username(),
        target=f"helpdesk.visitor:{visitor.pk}",
        target_repr=f"visitor {visitor.pk}",
        site_id=visitor.site_id,
    )


# ---- retention --------------------------------------------------------------------------------------

# Used or expired resume grants are kept a day: the hourly limit on codes counts them.
GRANT_GRACE = timedelta(days=1)
FINAL = [Notification.Status.SENT, Notification.Status.SKIPPED, Notification.Status.FAILED]


def retention_prune(*, now: datetime | None = None, batch: int | None = None) -> Counts:
    """Delete what is past retention, in batches of ``batch`` rows (PRUNE_BATCH): each site's
    resolved conversations whose last message is older than its retention (and visitors
    left with nothing, not seen since); delivered offline rows, sent (or given up)
    notifications and ended online sessions older than RETAIN_RECORDS_DAYS; used or
    expired resume grants. Each batch commits on its own, so a run that stops loses nothing
    and the next one goes on. Returns rows deleted per model."""
    now = now or timezone.now()
    size = batch or settings.PRUNE_BATCH
    records = now - timedelta(days=settings.RETAIN_RECORDS_DAYS)
    counts: Counts = Counter()
    for site in Site.objects.filter(retention_days__isnull=False).only("pk", "retention_days"):
        cutoff = now - timedelta(days=site.retention_days or 0)
        counts += _in_batches(_past_retention(site, cutoff), size)
        counts += _in_batches(_forgotten_visitors(site, cutoff), size)
    for qs in (
        OfflineMessage.objects.filter(
            state=OfflineMessage.State.DELIVERED, delivered_at__lt=records
        ),
        Notification.objects.filter(status__in=FINAL, created_at__lt=records),
        OnlineSession.objects.filter(ended_at__lt=records),
        ResumeGrant.objects.filter(
            Q(used_at__isnull=False) | Q(expires_at__lt=now), created_at__lt=now - GRANT_GRACE
        ),
    ):
        counts += _in_batches(qs, size)
    if counts:
        audit.record(action=audit.Action.PRUNE, detail={"deleted": dict(counts)})
        log.info("retention: deleted %s", dict(counts))
    return counts


def _past_retention(site: Site, cutoff: datetime) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(site=site, status=Conversation.Status.RESOLVED)
        .annotate(last=Coalesce("last_message_at", "created_at"))
        .filter(last__lt=cutoff)
    )


def _forgotten_visitors(site: Site, cutoff: datetime) -> QuerySet[Visitor]:
    """Visitors with no conversation left who have not been seen since the cutoff."""
    return (
        Visitor.objects.filter(site=site)
        .annotate(seen=Coalesce("last_seen_at", "created_at"))
        .filter(seen__lt=cutoff)
        .exclude(pk__in=Conversation.objects.filter(site=site).values("visitor_id"))
    )


def _in_batches(qs: QuerySet[Any], size: int) -> Counts:
    """``purge`` ``qs`` ``size`` rows at a time, each batch in its own transaction: a fixed
    number of queries per batch, whatever the rows."""
    counts: Counts = Counter()
    while True:
        with transaction.atomic():
            ids = list(qs.order_by().values_list("pk", flat=True)[:size])
            if not ids:
                return counts
            chosen = qs.model._base_manager.filter(pk__in=ids)
            if qs.model is Conversation:
                attachment_files_delete(Message.objects.filter(conversation__in=chosen))
            counts += purge(chosen)
        if len(ids) < size:
            return counts
