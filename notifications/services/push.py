"""Web Push: whether it is on, what pages need to offer it, and the subscriptions."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import Q

from helpdesk.models import Visitor
from notifications.models import (
    Notification,
    PushSubscription,
)

log = logging.getLogger(__name__)
Reason, Status, Channel = Notification.Reason, Notification.Status, Notification.Channel


def push_enabled() -> bool:
    return bool(settings.VAPID_PRIVATE_KEY)


def push_config() -> dict[str, Any]:
    """What a page needs to offer Web Push (staff pages and the widget alike)."""
    return {"enabled": push_enabled(), "public_key": settings.VAPID_PUBLIC_KEY}


def users_with_push(user_ids: Iterable[int]) -> set[int]:
    if not push_enabled():
        return set()
    return set(
        PushSubscription.objects.filter(user_id__in=set(user_ids)).values_list("user_id", flat=True)
    )


def push_subscribe(
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    user: Any = None,
    visitor: Visitor | None = None,
    user_agent: str = "",
) -> PushSubscription:
    """Remember a browser for ``user`` or ``visitor``. The endpoint names the browser: if
    someone else subscribed it before (another person signed in there), it is theirs no more."""
    assert (user is None) != (visitor is None)
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "p256dh": p256dh,
            "auth": auth,
            "user": user,
            "visitor": visitor,
            "user_agent": user_agent[:300],
        },
    )
    return subscription


def push_unsubscribe(*, endpoint: str, user: Any = None, visitor: Visitor | None = None) -> int:
    """Forget a browser; only its owner may. Returns how many were deleted (0 or 1)."""
    owner = Q(user=user) if user is not None else Q(visitor=visitor)
    deleted, _ = PushSubscription.objects.filter(owner, endpoint=endpoint).delete()
    return deleted
