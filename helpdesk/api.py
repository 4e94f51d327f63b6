"""JSON-over-HTTP API for apps and mini-programs (visitors) and for agents.

The same services as the sockets; the same error codes (docs/protocol.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from helpdesk import access, files, payloads, ratelimit, schema, selectors, services, tokens
from helpdesk.access import Action, Actor
from helpdesk.auth import agent_actor, request_agent, visitor_of
from helpdesk.models import Visitor
from helpdesk.services.attachments import NotYours, attachment_upload
from helpdesk.validation import (
    CenterIn,
    CursorIn,
    EmailIn,
    HelloIn,
    HistoryIn,
    InvalidInput,
    MessageIn,
    NoteIn,
    OpenIn,
    ReceiptIn,
    ResumeConfirmIn,
    ResumeRequestIn,
    SearchIn,
    check,
    check_message,
)
from notifications import services as notification_services
from notifications.schema import DeviceOut, WechatOut
from notifications.transports import TransportError
from notifications.validation import ConsentsIn, DeviceIn, WechatLoginIn, check_device


class ApiError(exceptions.APIException):
    def __init__(self, code: str, detail: str, status_code: int) -> None:
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.code = code


# Django REST framework's own refusals, in our codes (the docs' error table lists them all;
# tests/helpdesk/test_error_codes.py holds the two equal).
DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.ParseError: "invalid_json",
    exceptions.ValidationError: "invalid_message",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ratelimit.RateLimited):
        response = Response(
            {"error": {"code": "rate_limited", "detail": str(exc)}},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, InvalidInput):
        exc = ApiError(exc.code, exc.detail, 400)
    elif isinstance(exc, RecursionError):  # JSON nested past the parser's limit
        exc = ApiError("invalid_json", "The body is not valid JSON.", 400)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    answer = drf_exception_handler(exc, context)
    if answer is None:
        return None
    if isinstance(exc, ApiError):
        code = exc.code
    else:
        code = next(
            (c for kind, c in DRF_CODES.items() if isinstance(exc, kind)),
            "internal_error" if answer.status_code >= 500 else "invalid_message",
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    answer.data = {"error": {"code": code, "detail": str(detail)}}
    return answer


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
        visitor = (
            Visitor.objects.filter(pk=claim.visitor_id, site_id=claim.site_id)
            .select_related("site")
            .first()
        )
        if visitor is None and claim.pending is not None:
            visitor = _pending_visitor(request, claim)
        if visitor is None:
            raise ApiError("invalid_token", "The visitor token names no visitor.", 401)
        if visitor.external_id and not _proves_identity(request, visitor):
            # As on the socket: a token alone never resumes a signed-in user (a shared
            # computer after logout). The host app sends its proof with every request.
            raise ApiError(
                "identity_required",
                "This visitor is a signed-in user: send X-Helpdesk-User-Id and "
                "X-Helpdesk-User-Hash with the token.",
                401,
            )
        return VisitorPrincipal(visitor), None

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


def _pending_visitor(request: Request, claim: tokens.VisitorClaim) -> Visitor | None:
    """A pending token (a hello without a token over HTTP) before its visitor exists: a
    write makes the visitor (counted per address); a read sees one with nothing yet."""
    pending = services.pending_from_claim(claim, address=request.META.get("REMOTE_ADDR", ""))
    if pending is None:
        return None
    if request.method in SAFE_METHODS:
        visitor = Visitor(
            id=claim.visitor_id,
            site=pending.site,
            channel=pending.channel,
            external_id=pending.user_id,
        )
        return visitor
    session = services.visitor_create(pending=pending)
    return session.visitor


def _proves_identity(request: Request, visitor: Visitor) -> bool:
    user_id = request.META.get("HTTP_X_HELPDESK_USER_ID", "")
    user_hash = request.META.get("HTTP_X_HELPDESK_USER_HASH", "")
    return user_id == visitor.external_id and services.identity_verified(
        visitor.site, user_id, user_hash
    )


class IsVisitor(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, VisitorPrincipal)


class IsAgent(BasePermission):
    """A signed-in agent; their standing (``access.Actor``) is read for this request."""

    def has_permission(self, request: Request, view: Any) -> bool:
        actor = access.actor_for(request.user)
        if actor is None or actor.agent_id is None:
            raise ApiError("not_authenticated", "Sign in as an agent first.", 403)
        request.actor = actor  # type: ignore[attr-defined]  # read by auth.agent_actor
        return True


class VisitorSessionView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=HelloIn,
        responses={200: schema.SessionOut, **schema.errors(400, 401, 404, 429)},
        summary="Start or resume a visitor session",
    )
    def post(self, request: Request) -> Response:
        fields = check(HelloIn, request.data)
        try:
            session = services.visitor_session_from_hello(
                fields,
                address=request.META.get("REMOTE_ADDR", ""),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except services.UnknownSite:
            raise ApiError("unknown_site", "No site has this widget key.", 404) from None
        except tokens.InvalidToken as exc:
            raise ApiError("invalid_token", str(exc), 401) from None
        if session.visitor is None:  # someone new: nothing stored until their first write
            welcome = services.visitor_welcome(session, None)
            return Response(welcome | {"token": services.pending_token(session)})
        latest = selectors.visitor_latest_conversation(session.visitor)
        return Response(services.visitor_welcome(session, latest))


class VisitorMessagesView(APIView):
    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    @extend_schema(
        parameters=[
            OpenApiParameter("conversation_id", str, description="With after_seq: catch up."),
            OpenApiParameter("after_seq", int, description="Everything after this seq."),
            OpenApiParameter("before_seq", int, description="Older history: before this seq."),
            OpenApiParameter("limit", int, description="With before_seq: at most this many."),
        ],
        responses={200: schema.VisitorMessagesOut, **schema.errors(400, 401, 404)},
        summary="Catch up by cursor, or page back through history",
    )
    def get(self, request: Request) -> Response:
        visitor = visitor_of(request)
        if "before_seq" in request.query_params:
            fields = check(
                HistoryIn,
                {
                    "conversation_id": request.query_params.get("conversation_id"),
                    "before_seq": _int_param(request, "before_seq"),
                    "limit": request.query_params.get("limit", 50),
                },
            )
            older = selectors.visitor_history_before(visitor, **fields)
            if older is None:
                raise ApiError("not_found", "No such conversation of yours.", 404)
            messages, more = older
            return Response(
                {
                    "conversation_id": str(fields["conversation_id"]),
                    "messages": selectors.message_payloads(messages, audience="visitor"),
                    "has_more": more,
                }
            )
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
                "messages": selectors.message_payloads(messages, audience="visitor"),
            }
        )

    @extend_schema(
        request=MessageIn,
        responses={
            200: schema.MessageEnvelope,
            201: schema.MessageEnvelope,
            **schema.errors(400, 401, 404, 429),
        },
        summary="Send a message (idempotent by client_id)",
    )
    def post(self, request: Request) -> Response:
        client_id, body, fields = check_message(request.data)
        ratelimit.hit("visitor_messages", visitor_of(request).id.hex, what="messages")
        try:
            result = services.message_send_by_visitor(
                visitor=visitor_of(request),
                client_id=client_id,
                body=body,
                attachment_ids=fields["attachment_ids"],
            )
        except NotYours as exc:
            raise ApiError("not_found", str(exc), 404) from None
        return Response(
            {"message": result.payload(audience="visitor")},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


def _site(site_key: str) -> Any:
    site = selectors.site_by_key(site_key)
    if site is None:
        raise ApiError("unknown_site", "No site has this widget key.", 404)
    return site


class ResumeRequestView(APIView):
    """``POST {"site_key", "email"}``: email a one-time code to that confirmed address. Always
    ``202`` (whether the address is known is nobody's business)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=ResumeRequestIn,
        responses={202: schema.SentOut, **schema.errors(400, 404)},
        summary="Email a one-time code to continue on this device",
    )
    def post(self, request: Request) -> Response:
        fields = check(ResumeRequestIn, request.data)
        site = _site(fields["site_key"])
        notification_services.resume_code_request(site=site, email=fields["email"])
        return Response({"sent": True}, status=status.HTTP_202_ACCEPTED)


class ResumeConfirmView(APIView):
    """``POST {"site_key", "email", "code"}`` → a visitor token for that visitor, once."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=ResumeConfirmIn,
        responses={200: schema.ResumedOut, **schema.errors(400, 404)},
        summary="Exchange the emailed code for a visitor token",
    )
    def post(self, request: Request) -> Response:
        fields = check(ResumeConfirmIn, request.data)
        site = _site(fields["site_key"])
        visitor = notification_services.resume_code_confirm(
            site=site, email=fields["email"], code=fields["code"]
        )
        if visitor is None:
            raise ApiError("invalid_code", "The code is wrong, used or expired.", 400)
        return Response(
            {
                "token": tokens.issue(site_id=site.id, visitor_id=visitor.id),
                "visitor_id": str(visitor.id),
            }
        )


class VisitorReceiptsView(APIView):
    """``POST {"conversation_id", "delivered_seq", "seen_seq"}``: what the app received and
    showed. 204; 404 when the conversation is not this visitor's."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    @extend_schema(
        request=ReceiptIn,
        responses={204: None, **schema.errors(400, 401, 404)},
        summary="Delivered and seen receipts",
    )
    def post(self, request: Request) -> Response:
        fields = check(ReceiptIn, request.data)
        if not services.visitor_receipt(visitor=visitor_of(request), **fields):
            raise ApiError("not_found", "No such conversation of yours.", 404)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VisitorEmailView(APIView):
    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    @extend_schema(
        request=EmailIn,
        responses={202: schema.EmailOut, **schema.errors(400, 401, 429)},
        summary="Leave an email address for follow-ups (confirmed by a link)",
    )
    def post(self, request: Request) -> Response:
        fields = check(EmailIn, request.data)
        notification_services.visitor_email_set(visitor=visitor_of(request), email=fields["email"])
        return Response(
            {"email": fields["email"], "verified": False}, status=status.HTTP_202_ACCEPTED
        )


def _int_param(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "0")
    if not (raw.isascii() and raw.isdigit()):
        raise ApiError("invalid_message", f"{name}: must be a whole number.", 400)
    return int(raw)


def _object(data: Any) -> dict[str, Any]:
    """A JSON body that must be an object (a list or a string is refused, not unpacked)."""
    if not isinstance(data, dict):
        raise InvalidInput("invalid_message", "The body must be a JSON object.")
    return data


def _agent_conversation(actor: Actor, conversation_id: Any, action: Action) -> Any:
    """As the agent socket: ``not_found`` unless visible, ``not_assigned`` unless allowed."""
    conversation = access.conversation_for(actor, conversation_id)
    if conversation is None:
        raise ApiError("not_found", "No such conversation in your inbox.", 404)
    if not access.may(actor, action, conversation):
        raise ApiError("not_assigned", access.refusal(actor, action, conversation), 403)
    return conversation


class AgentConversationsView(APIView):
    permission_classes = [IsAgent]

    @extend_schema(
        parameters=[CenterIn],
        responses={200: schema.CenterPageOut, **schema.errors(400, 403)},
        summary="The message center: a page, with the counts of every filter",
    )
    def get(self, request: Request) -> Response:
        """The message center: ``?scope=mine|groups|all&state=open|unread|pending|replied|
        resolved&tag=<id>&q=<search>&cursor=<next_cursor>&limit=50``."""
        fields = check(CenterIn, request.query_params.dict())
        try:
            return Response(selectors.message_center(agent_actor(request), **fields))
        except selectors.BadQuery as exc:
            raise ApiError("invalid_message", str(exc), 400) from None


class AgentMessagesView(APIView):
    permission_classes = [IsAgent]

    @extend_schema(
        parameters=[OpenApiParameter("after_seq", int)],
        responses={200: schema.AgentHistoryOut, **schema.errors(400, 403, 404)},
        summary="A conversation's history after a seq",
    )
    def get(self, request: Request, conversation_id: str) -> Response:
        fields = check(
            OpenIn,
            {"conversation_id": conversation_id, "after_seq": _int_param(request, "after_seq")},
        )
        conversation = _agent_conversation(
            agent_actor(request), fields["conversation_id"], Action.OPEN
        )
        return Response(
            selectors.agent_history(agent_actor(request), conversation.id, fields["after_seq"])
        )

    @extend_schema(
        request=MessageIn,
        responses={
            200: schema.MessageEnvelope,
            201: schema.MessageEnvelope,
            **schema.errors(400, 403, 404),
        },
        summary="Reply (idempotent by client_id)",
    )
    def post(self, request: Request, conversation_id: str) -> Response:
        conversation = _agent_conversation(agent_actor(request), conversation_id, Action.OPEN)
        client_id, body, fields = check_message(request.data)
        try:
            result = services.message_send_by_agent(
                actor=agent_actor(request),
                agent=request_agent(request),
                conversation=conversation,
                client_id=client_id,
                body=body,
                attachment_ids=fields["attachment_ids"],
            )
        except services.NotAssigned as exc:
            raise ApiError("not_assigned", str(exc), 403) from None
        except NotYours as exc:
            raise ApiError("not_found", str(exc), 404) from None
        return Response(
            {"message": result.payload(audience="agent")},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


# ---- attachments ---------------------------------------------------------------------------------


def _upload(request: Request) -> files.Upload:
    """The one file of a multipart upload (field ``file``), checked: ``file_too_large`` (413)
    or ``unsupported_file`` (415) otherwise; nothing is stored then."""
    upload = request.FILES.get("file")
    if upload is None or len(request.FILES) != 1:
        raise ApiError("invalid_message", "file: send one file, in the form field 'file'.", 400)
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        limit = settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)
        raise ApiError("file_too_large", f"A file can be at most {limit} MB.", 413)
    checked = files.Upload(
        name=str(upload.name or "file"), content_type=upload.content_type or "", data=upload.read()
    )
    try:
        files.check_upload(checked)
    except files.Refused as exc:
        raise ApiError(exc.code, exc.detail, 413 if exc.code == "file_too_large" else 415) from None
    return checked


class VisitorAttachmentsView(APIView):
    """``POST`` multipart with one ``file`` → 201 the attachment, to send with
    ``attachment_ids`` in the next message."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": schema.UploadIn},
        responses={201: schema.AttachmentOut, **schema.errors(400, 401, 413, 415, 429)},
        summary="Upload a file to send",
    )
    def post(self, request: Request) -> Response:
        visitor = visitor_of(request)
        ratelimit.hit("visitor_uploads", visitor.id.hex, what="uploads")
        attachment = attachment_upload(upload=_upload(request), visitor=visitor)
        return Response(files.payload(attachment, audience="visitor"), status=201)


class AgentAttachmentsView(APIView):
    """As the visitor's, for a conversation the agent may reply to."""

    permission_classes = [IsAgent]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": schema.UploadIn},
        responses={201: schema.AttachmentOut, **schema.errors(400, 403, 404, 413, 415)},
        summary="Upload a file to send in a reply",
    )
    def post(self, request: Request, conversation_id: str) -> Response:
        conversation = _agent_conversation(agent_actor(request), conversation_id, Action.REPLY)
        attachment = attachment_upload(
            upload=_upload(request),
            agent=request_agent(request),
            conversation=conversation,
        )
        return Response(files.payload(attachment, audience="staff"), status=201)


class AgentNotesView(APIView):
    """``POST {"client_id", "body", "mention_ids"}`` → 201 the note (200 for a repeated
    ``client_id``): staff only, never shown to the visitor."""

    permission_classes = [IsAgent]

    @extend_schema(
        request=NoteIn,
        responses={201: schema.NoteOut, 200: schema.NoteOut, **schema.errors(400, 403, 404)},
        summary="Add an internal note",
    )
    def post(self, request: Request, conversation_id: str) -> Response:
        conversation = _agent_conversation(agent_actor(request), conversation_id, Action.OPEN)
        fields = check(NoteIn, {**_object(request.data), "conversation_id": conversation_id})
        result = services.note_add(
            agent=request_agent(request),
            conversation=conversation,
            client_id=fields["client_id"],
            body=fields["body"],
            mention_ids=fields["mention_ids"],
        )
        return Response(payloads.note(result.note), status=201 if result.created else 200)


class AgentSearchView(APIView):
    """``GET ?q=`` → the messages that match, newest first, in conversations one may see."""

    permission_classes = [IsAgent]

    @extend_schema(
        parameters=[SearchIn],
        responses={200: schema.SearchOut, **schema.errors(400, 403)},
        summary="Search message text",
    )
    def get(self, request: Request) -> Response:
        fields = check(SearchIn, request.query_params.dict())
        return Response(selectors.message_search(agent_actor(request), fields["q"]))


# ---- app push and WeChat mini-programs (docs/protocol.md, "Push to apps and mini-programs") ----


def _channel_missing(what: str) -> ApiError:
    return ApiError(
        "channel_not_configured",
        f"This site has no {what} credentials yet (back office: app and mini-program settings).",
        409,
    )


class VisitorDevicesView(APIView):
    """``POST {"platform": "fcm"|"apns", "token"}``: push replies to this phone's app;
    ``DELETE`` with the same body: stop (the app's sign-out). Only ever the token's visitor's."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    @extend_schema(
        request=DeviceIn,
        responses={201: DeviceOut, **schema.errors(400, 401, 409)},
        summary="Register this phone for app push",
    )
    def post(self, request: Request) -> Response:
        fields = check_device(request.data)
        try:
            notification_services.device_register(visitor=visitor_of(request), **fields)
        except notification_services.ChannelNotConfigured:
            raise _channel_missing(fields["platform"].upper()) from None
        return Response(fields, status=status.HTTP_201_CREATED)

    @extend_schema(request=DeviceIn, responses={204: None, **schema.errors(400, 401, 404)})
    def delete(self, request: Request) -> Response:
        fields = check_device(request.data)
        if not notification_services.device_unregister(visitor=visitor_of(request), **fields):
            raise ApiError("not_found", "No such device of yours.", 404)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _wechat_answer(call: Any) -> Response:
    try:
        return Response(call())
    except notification_services.ChannelNotConfigured:
        raise _channel_missing("WeChat mini-program") from None
    except notification_services.WechatNotLinked:
        raise ApiError(
            "wechat_not_linked", "Sign in with wx.login first (POST …/wechat/login).", 409
        ) from None
    except notification_services.UnknownTemplate as exc:
        raise ApiError(
            "unknown_template", f"accepted: {exc} is not one of this site's templates.", 400
        ) from None


class VisitorWechatLoginView(APIView):
    """``POST {"code"}`` (from ``wx.login()``): the server asks WeChat who the visitor is
    (their openid, kept encrypted); answers the templates to ask consent for."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    @extend_schema(
        request=WechatLoginIn,
        responses={200: WechatOut, **schema.errors(400, 401, 409, 429, 503)},
        summary="Link this visitor to their WeChat user (mini-programs)",
    )
    def post(self, request: Request) -> Response:
        fields = check(WechatLoginIn, request.data)
        visitor = visitor_of(request)
        ratelimit.hit("wechat_logins", visitor.id.hex, what="WeChat sign-ins")
        try:
            return _wechat_answer(
                lambda: notification_services.wechat_link(visitor=visitor, code=fields["code"])
            )
        except TransportError as exc:
            if exc.reason in ("40029", "40163", "40226"):
                raise ApiError("invalid_code", "WeChat refused the code.", 400) from None
            raise ApiError("wechat_unavailable", f"WeChat did not help: {exc}", 503) from None


class VisitorWechatConsentsView(APIView):
    """``POST {"accepted": [template IDs]}``: what ``wx.requestSubscribeMessage`` answered
    "accept" for; each allows one subscribe message. ``GET``: the templates and what is left."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    @extend_schema(
        responses={200: WechatOut, **schema.errors(401, 409)},
        summary="The templates to ask consent for, and the messages consents allow",
    )
    def get(self, request: Request) -> Response:
        visitor = visitor_of(request)
        return _wechat_answer(lambda: notification_services.wechat_status(visitor=visitor))

    @extend_schema(
        request=ConsentsIn,
        responses={200: WechatOut, **schema.errors(400, 401, 409)},
        summary="Report subscribe-message consents (mini-programs)",
    )
    def post(self, request: Request) -> Response:
        accepted = check(ConsentsIn, request.data)["accepted"]
        visitor = visitor_of(request)
        return _wechat_answer(
            lambda: notification_services.wechat_consents_record(visitor=visitor, accepted=accepted)
        )
