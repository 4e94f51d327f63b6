"""JSON-over-HTTP API for apps and mini-programs (visitors) and for agents.

The same services as the sockets; the same error codes (docs/protocol.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from helpdesk import payloads, selectors, services, tokens
from helpdesk.models import Agent, Visitor
from helpdesk.validation import (
    CursorIn,
    EmailIn,
    HelloIn,
    InvalidInput,
    OpenIn,
    check,
    check_message,
)
from notifications import services as notification_services
from routing import selectors as routing_selectors


class ApiError(exceptions.APIException):
    def __init__(self, code: str, detail: str, status_code: int) -> None:
        super().__init__(detail=detail, code=code)
        self.status_code = status_code


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, InvalidInput):
        exc = ApiError(exc.code, exc.detail, 400)
    elif isinstance(exc, RecursionError):  # JSON nested past the parser's limit
        exc = ApiError("invalid_json", "The body is not valid JSON.", 400)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, ApiError):
        code = exc.detail.code
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        code = "not_authenticated"
    elif isinstance(exc, exceptions.ParseError):
        code = "invalid_json"
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    response.data = {"error": {"code": code, "detail": str(detail)}}
    return response


class VisitorPrincipal:
    is_authenticated = True

    def __init__(self, visitor: Visitor) -> None:
        self.visitor = visitor


class VisitorTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <visitor token>``."""

    def authenticate(self, request: Request) -> tuple[VisitorPrincipal, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Bearer "):
            return None
        try:
            claim = tokens.read(header.removeprefix("Bearer ").strip())
        except tokens.InvalidToken as exc:
            raise ApiError("invalid_token", str(exc), 401) from None
        visitor = Visitor.objects.filter(pk=claim.visitor_id, site_id=claim.site_id).first()
        if visitor is None:
            raise ApiError("invalid_token", "The visitor token names no visitor.", 401)
        return VisitorPrincipal(visitor), None

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class IsVisitor(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, VisitorPrincipal)


class IsAgent(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        agent = selectors.agent_for_user(request.user)
        if agent is None:
            raise ApiError("not_authenticated", "Sign in as an agent first.", 403)
        request.agent = agent  # type: ignore[attr-defined]
        return True


class VisitorSessionView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        fields = check(HelloIn, request.data)
        try:
            session = services.visitor_session_from_hello(fields)
        except services.UnknownSite:
            raise ApiError("unknown_site", "No site has this widget key.", 404) from None
        except tokens.InvalidToken as exc:
            raise ApiError("invalid_token", str(exc), 401) from None
        latest = selectors.visitor_latest_conversation(session.visitor)
        return Response(
            {
                "token": session.token,
                "visitor_id": str(session.visitor.id),
                "site": {
                    "name": session.site.name,
                    "greeting": session.site.greeting,
                    "color": session.site.color,
                },
                "agents_online": routing_selectors.site_has_online_agent(session.site.id),
                "conversation_id": str(latest.id) if latest else None,
                "max_body": settings.MESSAGE_MAX_CHARS,
            }
        )


class VisitorMessagesView(APIView):
    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    def get(self, request: Request) -> Response:
        visitor = request.user.visitor
        cursor = None
        if request.query_params.get("conversation_id"):
            cursor = check(
                CursorIn,
                {
                    "conversation_id": request.query_params["conversation_id"],
                    "seq": _int_param(request, "after_seq"),
                },
            )
        conversation, messages = selectors.visitor_catch_up(
            visitor, cursor, settings.VISITOR_HISTORY_LIMIT
        )
        return Response(
            {
                "conversation_id": str(conversation.id) if conversation else None,
                "messages": [payloads.message(m, audience="visitor") for m in messages],
            }
        )

    def post(self, request: Request) -> Response:
        client_id, body, _ = check_message(request.data)
        result = services.message_send_by_visitor(
            visitor=request.user.visitor, client_id=client_id, body=body
        )
        return Response(
            {"message": payloads.message(result.message, audience="visitor")},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class VisitorEmailView(APIView):
    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    def post(self, request: Request) -> Response:
        fields = check(EmailIn, request.data)
        notification_services.visitor_email_set(visitor=request.user.visitor, email=fields["email"])
        return Response(
            {"email": fields["email"], "verified": False}, status=status.HTTP_202_ACCEPTED
        )


def _int_param(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "0")
    if not (raw.isascii() and raw.isdigit()):
        raise ApiError("invalid_message", f"{name}: must be a whole number.", 400)
    return int(raw)


def _agent_conversation(agent: Agent, conversation_id: Any) -> Any:
    conversation = selectors.conversation_for_agent(agent, conversation_id)
    if conversation is None:
        raise ApiError("not_found", "No such conversation in your inbox.", 404)
    return conversation


class AgentConversationsView(APIView):
    permission_classes = [IsAgent]

    def get(self, request: Request) -> Response:
        return Response({"conversations": selectors.agent_inbox(request.agent)})


class AgentMessagesView(APIView):
    permission_classes = [IsAgent]

    def get(self, request: Request, conversation_id: str) -> Response:
        fields = check(
            OpenIn,
            {"conversation_id": conversation_id, "after_seq": _int_param(request, "after_seq")},
        )
        conversation = _agent_conversation(request.agent, fields["conversation_id"])
        return Response(
            {
                "conversation": selectors.conversation_summary(conversation.id),
                "messages": [
                    payloads.message(m, audience="agent")
                    for m in selectors.messages_after(conversation.id, fields["after_seq"])
                ],
            }
        )

    def post(self, request: Request, conversation_id: str) -> Response:
        conversation = _agent_conversation(request.agent, conversation_id)
        client_id, body, _ = check_message(request.data)
        try:
            result = services.message_send_by_agent(
                agent=request.agent, conversation=conversation, client_id=client_id, body=body
            )
        except services.NotAssigned as exc:
            raise ApiError("not_assigned", str(exc), 403) from None
        return Response(
            {"message": payloads.message(result.message, audience="agent")},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
