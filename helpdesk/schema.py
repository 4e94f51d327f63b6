"""The OpenAPI description of the HTTP API (drf-spectacular): the shapes our views return,
which are built by ``payloads`` rather than serializers, and the visitor bearer token."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from helpdesk.selectors import STATES


class VisitorTokenScheme(OpenApiAuthenticationExtension):
    target_class = "helpdesk.api.VisitorTokenAuthentication"
    name = "visitorToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The visitor token from a session or a welcome frame.",
        }


class ErrorBody(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class ErrorOut(serializers.Serializer):
    error = ErrorBody()


class MessageOut(serializers.Serializer):
    id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    seq = serializers.IntegerField(min_value=1)
    sender = serializers.ChoiceField(choices=["visitor", "agent", "system"])
    agent_name = serializers.CharField(allow_null=True)
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    client_id = serializers.UUIDField(allow_null=True)
    meta = serializers.DictField()


class MessageEnvelope(serializers.Serializer):
    message = MessageOut()


class SiteOut(serializers.Serializer):
    name = serializers.CharField()
    greeting = serializers.CharField()
    color = serializers.CharField()
    satisfaction = serializers.ChoiceField(choices=["five", "thumbs", "off"])
    typing_preview = serializers.BooleanField(
        help_text="Whether the site's agents see a draft: send typing previews only then."
    )


class LimitsOut(serializers.Serializer):
    max_bytes = serializers.IntegerField()
    types = serializers.ListField(child=serializers.CharField())
    per_message = serializers.IntegerField()


class SessionOut(serializers.Serializer):
    token = serializers.CharField(
        help_text="Without a token in the request: a pending token (no visitor until a write)."
    )
    visitor_id = serializers.UUIDField(
        allow_null=True, help_text="null until the visitor's first write makes them."
    )
    identified = serializers.BooleanField()
    site = SiteOut()
    agents_online = serializers.BooleanField()
    conversation_id = serializers.UUIDField(allow_null=True)
    max_body = serializers.IntegerField()
    read_seq = serializers.IntegerField(help_text="How far the agent has read (0: nothing).")
    attachments = LimitsOut(help_text="What an upload may be (checked again by the server).")
    queue = serializers.DictField(
        allow_null=True,
        help_text='While waiting: {"position": n}, or {"next_open_at": iso or null} off hours.',
    )


class VisitorMessagesOut(serializers.Serializer):
    conversation_id = serializers.UUIDField(allow_null=True)
    messages = MessageOut(many=True)
    has_more = serializers.BooleanField(required=False)


class EmailOut(serializers.Serializer):
    email = serializers.EmailField()
    verified = serializers.BooleanField()


class SentOut(serializers.Serializer):
    sent = serializers.BooleanField()


class ResumedOut(serializers.Serializer):
    token = serializers.CharField()
    visitor_id = serializers.UUIDField()


class TagOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    color = serializers.CharField()


class VisitorRef(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class LastMessageOut(serializers.Serializer):
    sender = serializers.CharField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class ConversationOut(serializers.Serializer):
    id = serializers.UUIDField()
    visitor = VisitorRef()
    channel = serializers.CharField()
    status = serializers.ChoiceField(choices=["open", "resolved"])
    assigned_agent_id = serializers.IntegerField(allow_null=True)
    group_id = serializers.IntegerField(allow_null=True)
    priority = serializers.CharField()
    last_seq = serializers.IntegerField()
    read_seq = serializers.IntegerField()
    last_visitor_seq = serializers.IntegerField()
    last_agent_seq = serializers.IntegerField()
    visitor_seen_seq = serializers.IntegerField()
    visitor_delivered_seq = serializers.IntegerField()
    state = serializers.ChoiceField(choices=STATES)
    tags = TagOut(many=True)
    unread = serializers.IntegerField()
    waiting_since = serializers.DateTimeField(allow_null=True)
    last_message = LastMessageOut(allow_null=True)
    created_at = serializers.DateTimeField()


class CountsOut(serializers.Serializer):
    states = serializers.DictField(child=serializers.IntegerField())
    scopes = serializers.DictField(child=serializers.IntegerField())


class CenterPageOut(serializers.Serializer):
    conversations = ConversationOut(many=True)
    next_cursor = serializers.CharField(allow_null=True)
    counts = CountsOut()


class AgentHistoryOut(serializers.Serializer):
    conversation = ConversationOut()
    messages = MessageOut(many=True)


class EndpointOut(serializers.Serializer):
    endpoint = serializers.URLField()


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorOut, description="error") for code in codes}


class UploadIn(serializers.Serializer):
    file = serializers.FileField(help_text="One file (types and size: docs/protocol.md).")


class AttachmentOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    url = serializers.CharField(help_text="Signed; works for ATTACHMENT_URL_SECONDS.")
    thumbnail_url = serializers.CharField(allow_null=True)


class NoteOut(serializers.Serializer):
    id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    agent_id = serializers.IntegerField(allow_null=True)
    agent_name = serializers.CharField(allow_null=True)
    body = serializers.CharField()
    mentions = serializers.ListField(child=serializers.DictField())
    client_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()


class SearchOut(serializers.Serializer):
    query = serializers.CharField()
    results = serializers.ListField(child=serializers.DictField())
