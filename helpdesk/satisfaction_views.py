"""The doors to rating a conversation: the follow-up email's page (``/rate/<token>/``) and
the HTTP API (``POST /api/v1/visitor/rating``). The socket's ``rating`` frame is in
``helpdesk.consumers``. All three call ``satisfaction.rating_give``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk import satisfaction, schema
from helpdesk.api import ApiError, IsVisitor, VisitorTokenAuthentication
from helpdesk.auth import visitor_of
from helpdesk.models import Conversation, Rating, SatisfactionScale
from helpdesk.validation import InvalidInput, check

STATUS = {"not_found": 404, "not_resolved": 409, "rating_off": 409, "invalid_message": 400}


class RatingOut(serializers.Serializer):
    conversation_id = serializers.UUIDField()
    scale = serializers.ChoiceField(choices=["five", "thumbs"])
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(allow_blank=True)
    updated_at = serializers.DateTimeField()


class VisitorRatingView(APIView):
    """``POST {"conversation_id", "score", "comment"}``: rate a resolved conversation of
    this visitor's (again: replace the rating). 200 with the rating."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    @extend_schema(
        request=satisfaction.RatingIn,
        responses={200: RatingOut, **schema.errors(400, 401, 404, 409)},
        summary="Rate a resolved conversation",
    )
    def post(self, request: Request) -> Response:
        fields = check(satisfaction.RatingIn, request.data)
        try:
            rating = satisfaction.rating_give(visitor=visitor_of(request), **fields)
        except satisfaction.NotRateable as exc:
            raise ApiError(exc.code, exc.detail, STATUS[exc.code]) from None
        return Response(satisfaction.rating_payload(rating))


def rate_page(request: HttpRequest, token: str) -> HttpResponse:
    """The follow-up email's "How did we do?": GET shows the answer chosen in the email,
    to confirm with an optional comment (mail scanners follow links: a GET rates nothing);
    the POST stores it."""
    conversation_id = satisfaction.conversation_of_token(token)
    conversation = (
        Conversation.objects.select_related("site").filter(pk=conversation_id).first()
        if conversation_id
        else None
    )
    if conversation is None:
        return render(request, "helpdesk/rate.html", {"expired": True}, status=400)
    context: dict[str, Any] = {
        "site": conversation.site,
        "thumbs": conversation.site.satisfaction == SatisfactionScale.THUMBS,
        "scores": [5, 4, 3, 2, 1],
        "comment_max": satisfaction.COMMENT_MAX_CHARS,
    }
    source = request.POST if request.method == "POST" else request.GET
    context["chosen"] = _score(source.get("score"))
    context["comment"] = str(request.POST.get("comment", ""))[: satisfaction.COMMENT_MAX_CHARS]
    if request.method != "POST":
        return render(request, "helpdesk/rate.html", context)
    try:
        fields = check(
            satisfaction.RatingIn,
            {
                "conversation_id": str(conversation.pk),
                **{k: request.POST.get(k, "") for k in ("score", "comment")},
            },
        )
        satisfaction.rating_give(source=Rating.Source.EMAIL, **fields)
    except (InvalidInput, satisfaction.NotRateable) as exc:
        context["error"] = exc.detail
        return render(request, "helpdesk/rate.html", context, status=400)
    return render(request, "helpdesk/rate.html", {**context, "thanks": True})


def _score(value: Any) -> int | None:
    try:
        score = int(value)
    except (TypeError, ValueError):
        return None
    return score if 1 <= score <= 5 else None
