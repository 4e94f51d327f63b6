"""Input checks shared by the HTTP API and the sockets: one rule, one error code."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from helpdesk.models import Channel
from helpdesk.selectors import SCOPES, STATES


class InvalidInput(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class MessageIn(serializers.Serializer):
    client_id = serializers.UUIDField()
    # Required, and may be "" when the message carries files.
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)
    # Uploads (POST …/attachments) this message carries; a message may be only files.
    attachment_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list, max_length=10
    )


class FieldsOnce(serializers.Serializer):
    """Fields made once per class, not for every frame: DRF deep-copies each declared field
    for each instance, two thirds of a hello's validation (and after a deploy every widget
    says hello at once). Validating only reads the fields, which keep nothing of a call, so
    every instance uses one set, bound to an instance without data. For plain fields whose
    checks read no ``context``, ``partial`` or ``instance`` (those of that blank one)."""

    @property
    def fields(self) -> BindingDict:
        cls = type(self)
        made: BindingDict | None = cls.__dict__.get("_fields_once")
        if made is None:
            blank = cls()
            made = BindingDict(blank)
            for name, field in blank.get_fields().items():
                made[name] = field
            cls._fields_once = made  # type: ignore[attr-defined]
        return made


class CursorIn(FieldsOnce):
    conversation_id = serializers.UUIDField()
    seq = serializers.IntegerField(min_value=0)


class HelloIn(FieldsOnce):
    site_key = serializers.CharField(max_length=64)
    token = serializers.CharField(allow_null=True, required=False, max_length=512)
    cursor = CursorIn(allow_null=True, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, default=Channel.WEB)
    language = serializers.CharField(max_length=35, required=False, default="", allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)
    page_url = serializers.URLField(max_length=500, required=False, default="", allow_blank=True)
    page_title = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    referrer = serializers.URLField(max_length=500, required=False, default="", allow_blank=True)
    attributes = serializers.DictField(
        child=serializers.CharField(max_length=200, allow_blank=True), required=False, default=dict
    )
    # Identity verification: the host site's user ID and HMAC-SHA256(site secret, user_id), hex.
    user_id = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)
    user_hash = serializers.CharField(max_length=128, required=False, default="", allow_blank=True)
    name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)

    def validate_attributes(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 20 or any(len(k) > 50 for k in value):
            raise serializers.ValidationError("At most 20 attributes, names up to 50 characters.")
        return value


class EmailIn(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class ResolveIn(serializers.Serializer):
    conversation_id = serializers.UUIDField()


class StatusIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=["available", "away"])


class TransferIn(serializers.Serializer):
    conversation_id = serializers.UUIDField()
    to_agent_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    to_group_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if (data["to_agent_id"] is None) == (data["to_group_id"] is None):
            raise serializers.ValidationError("Name exactly one of to_agent_id and to_group_id.")
        return data


class OpenIn(serializers.Serializer):
    conversation_id = serializers.UUIDField()
    after_seq = serializers.IntegerField(min_value=0, required=False, default=0)


class ReadIn(serializers.Serializer):
    conversation_id = serializers.UUIDField()
    seq = serializers.IntegerField(min_value=0)


class AgentMessageIn(MessageIn):
    conversation_id = serializers.UUIDField()


def check(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Validate ``data``; raise ``InvalidInput`` naming the first bad field."""
    s = serializer_class(data=data)
    if not s.is_valid():
        raise InvalidInput("invalid_message", _first_error(s.errors))
    return dict(s.validated_data)


def _first_error(errors: Any, path: str = "") -> str:
    """``cursor.seq: A valid integer is required.`` from DRF's nested error structure."""
    if isinstance(errors, dict):
        field, inner = next(iter(errors.items()))
        name = field if field != "non_field_errors" else "value"
        return _first_error(inner, f"{path}.{name}" if path else name)
    if isinstance(errors, list) and errors:
        return _first_error(errors[0], path)
    return f"{path}: {errors}"


def check_message(
    data: Any, serializer_class: type[MessageIn] = MessageIn
) -> tuple[uuid.UUID, str, dict[str, Any]]:
    fields = check(serializer_class, data)
    body: str = fields["body"].strip()
    if not body and not fields["attachment_ids"]:
        raise InvalidInput("empty_body", "A message cannot be empty.")
    if len(body) > settings.MESSAGE_MAX_CHARS:
        raise InvalidInput(
            "body_too_long", f"A message can be at most {settings.MESSAGE_MAX_CHARS} characters."
        )
    return fields["client_id"], body, fields


class CenterIn(serializers.Serializer):
    """A page of the message center (socket ``center.list`` and ``GET /api/v1/agent/
    conversations``)."""

    scope = serializers.ChoiceField(choices=SCOPES, default="mine")
    state = serializers.ChoiceField(choices=["open", *STATES], default="open")
    tag = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    q = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    cursor = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)


class CountsIn(serializers.Serializer):
    scope = serializers.ChoiceField(choices=SCOPES, default="mine")


class TagsIn(serializers.Serializer):
    conversation_id = serializers.UUIDField()
    tag_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=20, allow_empty=True
    )


class ReceiptIn(serializers.Serializer):
    """From a visitor's client: the highest seq it has received, and shown on screen."""

    conversation_id = serializers.UUIDField()
    delivered_seq = serializers.IntegerField(min_value=0)
    seen_seq = serializers.IntegerField(min_value=0, required=False, default=0)


class ResumeRequestIn(serializers.Serializer):
    site_key = serializers.CharField(max_length=64)
    email = serializers.EmailField(max_length=254)


class ResumeConfirmIn(ResumeRequestIn):
    code = serializers.RegexField(r"^\s*\d{6}\s*$", max_length=12)


class HistoryIn(serializers.Serializer):
    """Older messages of one of the visitor's conversations, newest last."""

    conversation_id = serializers.UUIDField()
    before_seq = serializers.IntegerField(min_value=1)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)


class NoteIn(serializers.Serializer):
    conversation_id = serializers.UUIDField()
    client_id = serializers.UUIDField()
    body = serializers.CharField(max_length=4000, trim_whitespace=True)
    mention_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=20
    )


class TypingIn(serializers.Serializer):
    """From either side; ``conversation_id`` on the agent's socket, ``preview`` on the
    visitor's (shown only where the site allows it)."""

    conversation_id = serializers.UUIDField(required=False)
    active = serializers.BooleanField(default=True)
    preview = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class SnoozeIn(serializers.Serializer):
    conversation_id = serializers.UUIDField()
    until = serializers.DateTimeField(allow_null=True)


class VisitorUpdateIn(serializers.Serializer):
    conversation_id = serializers.UUIDField()
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)


class ReplyIn(serializers.Serializer):
    id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    title = serializers.CharField(max_length=100)
    body = serializers.CharField(max_length=4000)
    language = serializers.CharField(max_length=10, required=False, default="", allow_blank=True)
    shortcut = serializers.SlugField(max_length=40, required=False, default="", allow_blank=True)
    group_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)


class ReplyDeleteIn(serializers.Serializer):
    id = serializers.IntegerField(min_value=1)


class SearchIn(serializers.Serializer):
    q = serializers.CharField(max_length=100)
