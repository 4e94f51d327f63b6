"""Satisfaction: once a conversation is resolved its visitor may rate it, on the site's scale
(1 to 5, or good and bad) with a comment, from the widget or an app (the socket's ``rating``
frame, ``POST /api/v1/visitor/rating``) or from the follow-up email (a signed link to
``/rate/<token>/``). Rating again replaces the rating. The reports read them
(``helpdesk.reports.satisfaction``).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from rest_framework import serializers

from helpdesk.models import Conversation, Rating, SatisfactionScale, Visitor

COMMENT_MAX_CHARS = 1000
LINK_SALT = "helpdesk.rating"
LINK_DAYS = 30
# Good and bad are kept as the ends of the 1-5 scale.
GOOD, BAD = 5, 1


class RatingIn(serializers.Serializer):
    conversation_id = serializers.UUIDField()
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(
        max_length=COMMENT_MAX_CHARS, required=False, default="", allow_blank=True
    )


class NotRateable(Exception):
    """Why a rating is refused, as an error code and words (docs/protocol.md)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


@transaction.atomic
def rating_give(
    *,
    conversation_id: uuid.UUID,
    score: int,
    comment: str = "",
    visitor: Visitor | None = None,
    source: str = Rating.Source.WIDGET,
) -> Rating:
    """Store (or replace) the rating of a resolved conversation. ``visitor``: the one whose
    conversation it must be (None: the caller proved it otherwise, by a signed link).

    Raises ``NotRateable``: ``not_found`` (no such conversation of the visitor's),
    ``not_resolved``, ``rating_off`` (the site does not ask), ``invalid_message`` (a score the
    site's scale does not have)."""
    mine = Conversation.objects.select_for_update().select_related("site")
    if visitor is not None:
        mine = mine.filter(visitor=visitor)
    conversation = mine.filter(pk=conversation_id).first()
    if conversation is None:
        raise NotRateable("not_found", "No such conversation of yours.")
    scale = conversation.site.satisfaction
    if scale == SatisfactionScale.OFF:
        raise NotRateable("rating_off", "This site does not ask for ratings.")
    if conversation.status != Conversation.Status.RESOLVED:
        raise NotRateable("not_resolved", "A conversation is rated once it is resolved.")
    if scale == SatisfactionScale.THUMBS and score not in (GOOD, BAD):
        raise NotRateable("invalid_message", f"score: good is {GOOD}, bad is {BAD}.")
    rating, _ = Rating.objects.update_or_create(
        conversation=conversation,
        defaults={"scale": scale, "score": score, "comment": comment.strip(), "source": source},
    )
    return rating


def rating_payload(rating: Rating) -> dict[str, Any]:
    """The ``rating`` frame and the HTTP answer."""
    return {
        "conversation_id": str(rating.conversation_id),
        "scale": rating.scale,
        "score": rating.score,
        "comment": rating.comment,
        "updated_at": rating.updated_at.isoformat(),
    }


# ---- the follow-up email's links ------------------------------------------------------------------


def rating_token(conversation_id: uuid.UUID) -> str:
    return signing.dumps({"c": conversation_id.hex}, salt=LINK_SALT, compress=True)


def conversation_of_token(token: str) -> uuid.UUID | None:
    """The conversation a rating link names, if the link is ours and recent enough."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=LINK_DAYS * 86400)
        return uuid.UUID(str(data["c"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def rating_links(conversation: Conversation) -> list[dict[str, Any]]:
    """One link per answer for the follow-up email (empty: nothing to ask). Each opens a page
    that asks to confirm, so a mail scanner that follows links rates nothing."""
    scale = conversation.site.satisfaction
    if scale == SatisfactionScale.OFF or conversation.status != Conversation.Status.RESOLVED:
        return []
    base = f"{settings.PUBLIC_BASE_URL}/rate/{rating_token(conversation.pk)}/"
    scores = [GOOD, BAD] if scale == SatisfactionScale.THUMBS else [5, 4, 3, 2, 1]
    return [{"score": s, "url": f"{base}?score={s}"} for s in scores]
