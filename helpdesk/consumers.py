"""WebSocket consumers: authenticate, subscribe, parse, call services, send. Nothing more.

Every frame is answered on its own: a bad one gets an error frame and changes nothing, and
the socket keeps serving. The frames are described in docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from helpdesk import access, events, payloads, ratelimit, satisfaction, selectors, services, tokens
from helpdesk.access import Action, Actor
from helpdesk.models import Agent, AgentGroup, Tag, Visitor
from helpdesk.validation import (
    AgentMessageIn,
    CenterIn,
    CountsIn,
    EmailIn,
    HelloIn,
    InvalidInput,
    OpenIn,
    ReadIn,
    ReceiptIn,
    ResolveIn,
    StatusIn,
    TagsIn,
    TransferIn,
    check,
    check_message,
)
from notifications import services as notification_services
from offline import services as offline_services
from routing import presence
from routing import services as routing_services

log = logging.getLogger(__name__)
db = database_sync_to_async

HELLO_TIMEOUT_SECONDS = 10
CLOSE_ORIGIN = 4403
CLOSE_AUTH = 4401
CLOSE_UNKNOWN_SITE = 4404
CLOSE_TOO_LARGE = 1009
CLOSE_RETRY = 1011

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class ClientError(Exception):
    def __init__(self, code: str, detail: str, close: int | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.close = code, detail, close


class JsonConsumer(AsyncWebsocketConsumer):
    """Frame parsing and error replies shared by both sides."""

    def handlers(self) -> dict[str, Handler]:
        raise NotImplementedError

    async def dispatch(self, message: dict[str, Any]) -> None:
        """As Channels', without its trip to the database thread before every handler
        (``aclose_old_connections``). A process has one database thread; an event that only
        forwards text to this socket would wait there behind every other socket's database
        work, so under load events were held back for seconds. Every database call here
        goes through ``db`` (database_sync_to_async), which closes stale connections around
        itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content))

    async def send_error(self, code: str, detail: str, client_id: Any = None) -> None:
        frame = {"type": "error", "code": code, "detail": detail}
        if client_id is not None:
            frame["client_id"] = str(client_id)
        await self.send_json(frame)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        if len(raw.encode("utf-8")) > settings.FRAME_MAX_BYTES:
            await self.send_error("frame_too_large", "A frame can be at most 64 KiB.")
            await self.close(CLOSE_TOO_LARGE)
            return
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the limit
            data = None
        if not isinstance(data, dict):
            await self.send_error("invalid_json", "A frame must be a JSON object.")
            return
        type_ = data.get("type")
        handler = self.handlers().get(type_) if isinstance(type_, str) else None
        client_id = data.get("client_id") if isinstance(data.get("client_id"), str) else None
        if handler is None:
            await self.send_error("unknown_type", f"Unknown frame type {data.get('type')!r}.")
            return
        if not await self.still_authorised():
            await self.send_error("not_authenticated", "Your session has ended; sign in again.")
            await self.close(CLOSE_AUTH)
            return
        try:
            await handler(data)
        except InvalidInput as exc:
            await self.send_error(exc.code, exc.detail, client_id)
        except ClientError as exc:
            await self.send_error(exc.code, exc.detail, client_id)
            if exc.close:
                await self.close(exc.close)
        except ratelimit.RateLimited as exc:
            # Nothing stored; the client keeps the message and sends it again later.
            frame = {"type": "error", "code": "rate_limited", "detail": str(exc)}
            frame["retry_after"] = exc.retry_after
            if client_id:
                frame["client_id"] = client_id
            await self.send_json(frame)
        except Exception:
            # Whether the write committed is unknown here, so the client must not drop its
            # message: no client_id in the error, and a close that makes it reconnect and
            # resend (idempotent by client_id).
            log.exception("frame %r failed", type_)
            await self.send_error("internal_error", "Something went wrong; reconnect and resend.")
            await self.close(CLOSE_RETRY)

    async def still_authorised(self) -> bool:
        """Every frame is authorised on its own, not only at connect."""
        return True

    async def hd_event(self, message: dict[str, Any]) -> None:
        await self.send(text_data=message["text"])

    async def hd_close(self, message: dict[str, Any]) -> None:
        await self.send_error("not_authenticated", "Your session has ended; sign in again.")
        await self.close(CLOSE_AUTH)

    async def ping(self, data: dict[str, Any]) -> None:
        await self.refresh_presence()
        await self.send_json({"type": "pong"})

    async def refresh_presence(self) -> None:
        raise NotImplementedError


class VisitorConsumer(JsonConsumer):
    visitor: Visitor | None = None

    def handlers(self) -> dict[str, Handler]:
        if self.visitor is None:
            return {"hello": self.hello, "message.send": self.not_yet, "ping": self.not_yet}
        return {
            "hello": self.again,
            "message.send": self.message_send,
            "visitor.email": self.visitor_email,
            "receipt": self.receipt,
            "rating": self.rating,
            "ping": self.ping,
        }

    async def connect(self) -> None:
        await self.accept()
        self._hello_timer = asyncio.get_running_loop().call_later(
            HELLO_TIMEOUT_SECONDS, lambda: asyncio.ensure_future(self._hello_timeout())
        )

    async def _hello_timeout(self) -> None:
        if self.visitor is None:
            await self.send_error("not_authenticated", "Say hello first.")
            await self.close(CLOSE_AUTH)

    async def not_yet(self, data: dict[str, Any]) -> None:
        raise ClientError("not_authenticated", "Say hello first.", close=CLOSE_AUTH)

    async def again(self, data: dict[str, Any]) -> None:
        raise InvalidInput("invalid_message", "This socket has already said hello.")

    async def hello(self, data: dict[str, Any]) -> None:
        fields = check(HelloIn, data)
        client = self.scope.get("client") or ("unknown", 0)
        origin = dict(self.scope.get("headers", [])).get(b"origin", b"").decode("latin-1")
        # Two trips to the database thread, not five: after a deploy every widget says hello
        # again at once, and each trip queues behind all the others.
        session = await db(self._session)(fields, client[0], origin)
        visitor = session.visitor
        # Subscribe before reading the catch-up, so nothing falls between the two.
        for group in (events.visitor_group(visitor.id), events.site_group(session.site.id)):
            await self.channel_layer.group_add(group, self.channel_name)
        welcome = await db(self._welcome)(session, fields.get("cursor"))
        self._hello_timer.cancel()
        self.visitor = visitor  # only now: a hello that failed above leaves the socket unbound
        await self.send_json(welcome)

    def _session(
        self, fields: dict[str, Any], address: str, origin: str
    ) -> services.VisitorSession:
        """Who says hello: the site (its origin allowed), a new visitor counted per address,
        or the one their token names."""
        site = selectors.site_by_key(fields["site_key"])
        if site is not None and not selectors.origin_allowed(site, origin):
            # Before anything is created: a page the site did not allow learns nothing.
            raise ClientError(
                "forbidden_origin", "This site does not allow chat from this page.", CLOSE_ORIGIN
            )
        try:
            return services.visitor_session_from_hello(fields, address=address, site=site)
        except services.UnknownSite:
            raise ClientError(
                "unknown_site", "No site has this widget key.", CLOSE_UNKNOWN_SITE
            ) from None
        except tokens.InvalidToken as exc:
            raise ClientError("invalid_token", str(exc), CLOSE_AUTH) from None

    def _welcome(
        self, session: services.VisitorSession, cursor: dict[str, Any] | None
    ) -> dict[str, Any]:
        conversation, messages = selectors.visitor_catch_up(
            session.visitor, cursor, settings.VISITOR_HISTORY_LIMIT
        )
        if conversation is not None and messages:
            offline_services.offline_mark_delivered_to_visitor(
                conversation=conversation, up_to_seq=messages[-1].seq
            )
        welcome = {
            "type": "welcome",
            **services.visitor_welcome(session, conversation),
            "messages": [payloads.message(m, audience="visitor") for m in messages],
        }
        # Online from now (the last step: a hello that failed leaves no presence behind).
        presence.store().connect("visitor", session.visitor.id.hex, self.channel_name)
        return welcome

    async def message_send(self, data: dict[str, Any]) -> None:
        assert self.visitor is not None
        client_id, body, _ = check_message(data)
        result = await db(self._store_message)(client_id, body)
        await self.send_json(
            {
                "type": "message.ack",
                "client_id": str(client_id),
                "message": payloads.message(result.message, audience="visitor"),
            }
        )

    def _store_message(self, client_id: uuid.UUID, body: str) -> services.SendResult:
        """Counted against the visitor's rate, then stored: one trip to the database thread
        (every trip queues behind all the process's others, so a message makes one)."""
        assert self.visitor is not None
        ratelimit.hit("visitor_messages", self.visitor.id.hex, what="messages")
        return services.message_send_by_visitor(
            visitor=self.visitor, client_id=client_id, body=body
        )

    async def receipt(self, data: dict[str, Any]) -> None:
        """What this client has received and shown; the agent sees "Delivered" and "Seen"."""
        assert self.visitor is not None
        fields = check(ReceiptIn, data)
        if not await db(services.visitor_receipt)(visitor=self.visitor, **fields):
            raise ClientError("not_found", "No such conversation of yours.")

    async def rating(self, data: dict[str, Any]) -> None:
        """A rating of one of this visitor's resolved conversations (helpdesk.satisfaction)."""
        assert self.visitor is not None
        fields = check(satisfaction.RatingIn, data)
        try:
            rating = await db(satisfaction.rating_give)(visitor=self.visitor, **fields)
        except satisfaction.NotRateable as exc:
            raise ClientError(exc.code, exc.detail) from None
        await self.send_json({"type": "rating", **satisfaction.rating_payload(rating)})

    async def visitor_email(self, data: dict[str, Any]) -> None:
        """The offline form: an address for follow-ups, used once verified by its link."""
        assert self.visitor is not None
        fields = check(EmailIn, data)
        await db(notification_services.visitor_email_set)(
            visitor=self.visitor, email=fields["email"]
        )
        await self.send_json({"type": "visitor.email", "email": fields["email"], "verified": False})

    async def refresh_presence(self) -> None:
        if self.visitor is not None:
            await db(presence.store().connect)("visitor", self.visitor.id.hex, self.channel_name)

    async def disconnect(self, code: int) -> None:
        timer = getattr(self, "_hello_timer", None)
        if timer is not None:
            timer.cancel()
        if self.visitor is not None:
            await db(presence.store().disconnect)("visitor", self.visitor.id.hex, self.channel_name)
            for group in (
                events.visitor_group(self.visitor.id),
                events.site_group(self.visitor.site_id),
            ):
                await self.channel_layer.group_discard(group, self.channel_name)


def _conversation_for(actor: Actor, conversation_id: Any, action: Action) -> tuple[Any, str | None]:
    """The visible conversation (or None), and why ``action`` is refused (or None)."""
    conversation = access.conversation_for(actor, conversation_id)
    if conversation is None or access.may(actor, action, conversation):
        return conversation, None
    return conversation, access.refusal(actor, action, conversation)


def _echo(fields: dict[str, Any]) -> dict[str, Any]:
    """The query a page answers, so a client can drop answers to queries it moved on from."""
    return {k: fields[k] for k in ("scope", "state", "tag", "q", "cursor")}


class AgentConsumer(JsonConsumer):
    agent: Agent | None = None
    # Who the agent is now (groups, managed groups, sites, skills): read again before every
    # frame, so a change in the back office applies to open sockets at once.
    actor: Actor | None = None

    def handlers(self) -> dict[str, Handler]:
        return {
            "conversation.open": self.conversation_open,
            "conversation.read": self.conversation_read,
            "message.send": self.message_send,
            "conversation.transfer": self.conversation_transfer,
            "conversation.resolve": self.conversation_resolve,
            "status.set": self.status_set,
            "center.list": self.center_list,
            "center.counts": self.center_counts,
            "conversation.tags": self.conversation_tags,
            "ping": self.ping,
        }

    async def connect(self) -> None:
        await self.accept()
        origin = dict(self.scope.get("headers", [])).get(b"origin", b"").decode("latin-1")
        if not selectors.origin_is_ours(origin):
            # Accepted first, so the client reads the reason and the close code (a refused
            # handshake looks like a network failure, which clients retry for ever).
            await self.send_error("forbidden_origin", "Agent sockets open from our own pages.")
            await self.close(CLOSE_ORIGIN)
            return
        self.agent = await db(selectors.agent_for_user)(self.scope.get("user"))
        if self.agent is not None:
            self.actor = await db(access.actor_for)(self.scope.get("user"))
        if self.agent is None or self.actor is None:
            await self.send_error("not_authenticated", "Sign in as an agent first.")
            await self.close(CLOSE_AUTH)
            return
        await self.channel_layer.group_add(events.agent_group(self.agent.id), self.channel_name)
        first = await db(presence.store().connect)("agent", str(self.agent.id), self.channel_name)
        inbox = await db(selectors.agent_inbox)(self.agent)
        await self.send_json(
            {
                "type": "inbox",
                "agent": {"id": self.agent.id, "name": self.agent.display_name},
                "status": self.agent.status,
                "conversations": inbox,
                **await db(selectors.center_context)(self.actor),
            }
        )
        await db(routing_services.agent_seen)(agent_id=self.agent.id, every=timedelta(0))
        if first:
            await db(services.agent_came_online)(agent_id=self.agent.id)

    async def still_authorised(self) -> bool:
        if self.agent is None:
            return False
        self.actor = await db(self._current_actor)()
        return self.actor is not None and self.actor.agent_id == self.agent.id

    def _current_actor(self) -> Actor | None:
        """The session still exists (no logout), the user is active, the agent profile too;
        and what they may see now."""
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        if not key or not session.exists(key):
            return None
        return access.actor_for(self.scope.get("user"))

    async def status_set(self, data: dict[str, Any]) -> None:
        fields = check(StatusIn, data)
        await db(routing_services.agent_set_status)(agent_id=self.agent.id, status=fields["status"])

    async def conversation_transfer(self, data: dict[str, Any]) -> None:
        fields = check(TransferIn, data)
        conversation = await self._conversation(fields["conversation_id"], Action.TRANSFER)
        if not await db(self._target_exists)(fields["to_agent_id"], fields["to_group_id"]):
            raise ClientError("not_found", "No such agent or group.")
        try:
            await db(routing_services.conversation_transfer)(
                conversation_id=conversation.id,
                by_name=self.agent.display_name,
                actor=self.actor,
                to_agent_id=fields["to_agent_id"],
                to_group_id=fields["to_group_id"],
                reason=fields["reason"],
            )
        except routing_services.NotAllowed as exc:
            raise ClientError("not_assigned", str(exc)) from None

    async def conversation_resolve(self, data: dict[str, Any]) -> None:
        fields = check(ResolveIn, data)
        conversation = await self._conversation(fields["conversation_id"], Action.RESOLVE)
        try:
            await db(services.conversation_resolve)(
                conversation_id=conversation.id, by_name=self.agent.display_name, actor=self.actor
            )
        except routing_services.NotAllowed as exc:
            raise ClientError("not_assigned", str(exc)) from None

    @staticmethod
    def _target_exists(agent_id: int | None, group_id: int | None) -> bool:
        if agent_id is not None:
            return Agent.objects.filter(pk=agent_id, user__is_active=True).exists()
        return AgentGroup.objects.filter(pk=group_id).exists()

    async def refresh_presence(self) -> None:
        assert self.agent is not None
        await db(routing_services.agent_seen)(agent_id=self.agent.id)
        first = await db(presence.store().connect)("agent", str(self.agent.id), self.channel_name)
        if first:  # the socket had expired (a long freeze): treat it as a fresh login
            await db(services.agent_came_online)(agent_id=self.agent.id)

    async def _conversation(self, conversation_id: Any, action: Action) -> Any:
        """The conversation, if the agent may see it (else ``not_found``, whether it exists
        or not) and may do ``action`` to it (else ``not_assigned``, saying why)."""
        assert self.actor is not None
        conversation, refused = await db(_conversation_for)(self.actor, conversation_id, action)
        if conversation is None:
            raise ClientError("not_found", "No such conversation in your inbox.")
        if refused:
            raise ClientError("not_assigned", refused)
        return conversation

    async def conversation_open(self, data: dict[str, Any]) -> None:
        fields = check(OpenIn, data)
        conversation = await self._conversation(fields["conversation_id"], Action.OPEN)
        summary, messages = await db(self._history)(conversation.id, fields["after_seq"])
        await self.send_json(
            {
                "type": "history",
                "conversation": summary,
                "messages": [payloads.message(m, audience="agent") for m in messages],
            }
        )

    @staticmethod
    def _history(conversation_id: Any, after_seq: int) -> tuple[dict[str, Any], list[Any]]:
        return (
            selectors.conversation_summary(conversation_id),
            selectors.messages_after(conversation_id, after_seq),
        )

    async def center_list(self, data: dict[str, Any]) -> None:
        fields = check(CenterIn, data)
        try:
            page = await db(selectors.message_center)(self.actor, **fields)
        except selectors.BadQuery as exc:
            raise ClientError("invalid_message", str(exc)) from None
        await self.send_json({"type": "center.page", "query": _echo(fields), **page})

    async def center_counts(self, data: dict[str, Any]) -> None:
        fields = check(CountsIn, data)
        try:
            counts = await db(selectors.center_counts)(self.actor, scope=fields["scope"])
        except selectors.BadQuery as exc:
            raise ClientError("invalid_message", str(exc)) from None
        await self.send_json({"type": "center.counts", "scope": fields["scope"], **counts})

    async def conversation_tags(self, data: dict[str, Any]) -> None:
        fields = check(TagsIn, data)
        conversation = await self._conversation(fields["conversation_id"], Action.TAG)
        if not await db(self._tags_exist)(fields["tag_ids"]):
            raise ClientError("not_found", "No such tag (managers define tags).")
        await db(services.conversation_set_tags)(
            agent=self.agent, conversation=conversation, tag_ids=fields["tag_ids"]
        )

    @staticmethod
    def _tags_exist(tag_ids: list[int]) -> bool:
        return Tag.objects.filter(pk__in=tag_ids).count() == len(set(tag_ids))

    async def conversation_read(self, data: dict[str, Any]) -> None:
        fields = check(ReadIn, data)
        conversation = await self._conversation(fields["conversation_id"], Action.OPEN)
        await db(services.conversation_mark_read)(
            agent=self.agent, conversation=conversation, seq=fields["seq"]
        )

    async def message_send(self, data: dict[str, Any]) -> None:
        client_id, body, fields = check_message(data, AgentMessageIn)
        # A resend of a stored reply is answered with it even if the agent may no longer
        # reply (the service finds it first), so the check under the row lock decides.
        conversation = await self._conversation(fields["conversation_id"], Action.OPEN)
        try:
            result = await db(services.message_send_by_agent)(
                actor=self.actor,
                agent=self.agent,
                conversation=conversation,
                client_id=client_id,
                body=body,
            )
        except services.NotAssigned as exc:
            raise ClientError("not_assigned", str(exc)) from None
        await self.send_json(
            {
                "type": "message.ack",
                "client_id": str(client_id),
                "message": payloads.message(result.message, audience="agent"),
            }
        )

    async def disconnect(self, code: int) -> None:
        if self.agent is None:
            return
        await self.channel_layer.group_discard(events.agent_group(self.agent.id), self.channel_name)
        last = await db(presence.store().disconnect)("agent", str(self.agent.id), self.channel_name)
        await db(routing_services.agent_seen)(agent_id=self.agent.id, every=timedelta(0))
        if last:
            await db(services.agent_went_offline)(agent_id=self.agent.id)
