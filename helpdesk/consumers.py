"""WebSocket consumers: authenticate, subscribe, parse, call services, send. Nothing more.

Every frame is answered on its own: a bad one gets an error frame and changes nothing, and
the socket keeps serving. The frames are described in docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings

from helpdesk import (
    access,
    events,
    logs,
    metrics,
    payloads,
    pgpool,
    ratelimit,
    satisfaction,
    selectors,
    services,
    site_cache,
    tokens,
)
from helpdesk.access import Action, Actor
from helpdesk.dbtrips import database_trip
from helpdesk.models import Agent, Visitor
from helpdesk.services import append, resume
from helpdesk.services import typing as typing_services
from helpdesk.services.attachments import NotYours
from helpdesk.sockets import (
    CLOSE_AUTH,
    CLOSE_ORIGIN,
    CLOSE_UNKNOWN_SITE,
    HELLO_TIMEOUT_SECONDS,
    ClientError,
    Handler,
    JsonConsumer,
)
from helpdesk.validation import (
    AgentMessageIn,
    CenterIn,
    CountsIn,
    EmailIn,
    HelloIn,
    InvalidInput,
    NoteIn,
    OpenIn,
    ReadIn,
    ReceiptIn,
    ReplyDeleteIn,
    ReplyIn,
    ResolveIn,
    SearchIn,
    SnoozeIn,
    StatusIn,
    TagsIn,
    TransferIn,
    TypingIn,
    VisitorUpdateIn,
    check,
    check_message,
)
from notifications import services as notification_services
from offline import services as offline_services
from routing import presence
from routing import services as routing_services

log = logging.getLogger(__name__)
db = database_trip


class VisitorConsumer(JsonConsumer):
    visitor: Visitor | None = None
    # Said hello without a token: no visitor row until the first write (services.visitors).
    pending: services.PendingVisitor | None = None
    # The agent of the conversation this socket last wrote to (PostgreSQL): its next message
    # takes the one-statement path (services.append).
    expected: append.Expected | None = None

    def handlers(self) -> dict[str, Handler]:
        if self.visitor is None and self.pending is not None:
            return {
                "hello": self.again,
                "message.send": self.message_send,
                "visitor.email": self.visitor_email,
                "visitor.start": self.visitor_start,
                "receipt": self.receipt,
                "typing": self.typing,
                "rating": self.rating,
                "ping": self.ping,
            }
        if self.visitor is None:
            return {"hello": self.hello, "message.send": self.not_yet, "ping": self.not_yet}
        return {
            "hello": self.again,
            "message.send": self.message_send,
            "visitor.email": self.visitor_email,
            "receipt": self.receipt,
            "typing": self.typing,
            "rating": self.rating,
            "visitor.start": self.visitor_start,
            "ping": self.ping,
        }

    # The hello timer closes a socket that did not say hello in time, never one whose hello
    # is being answered: under load (a reconnect storm after a deploy) a hello can wait its
    # turn for longer than the timeout, and closing it then only made the client say it again.
    _answering_hello = False

    async def connect(self) -> None:
        await self.accept()
        self._hello_timer = asyncio.get_running_loop().call_later(
            HELLO_TIMEOUT_SECONDS, self._hello_due
        )

    def _hello_due(self) -> None:
        if not self._answering_hello:  # else the hello being answered decides (``hello``)
            self._closing = asyncio.ensure_future(self._hello_timeout())

    async def _hello_timeout(self) -> None:
        if self.visitor is None:
            await self.send_error("not_authenticated", "Say hello first.")
            await self.close(CLOSE_AUTH)

    async def not_yet(self, data: dict[str, Any]) -> None:
        raise ClientError("not_authenticated", "Say hello first.", close=CLOSE_AUTH)

    async def again(self, data: dict[str, Any]) -> None:
        raise InvalidInput("invalid_message", "This socket has already said hello.")

    async def hello(self, data: dict[str, Any]) -> None:
        # A hello ends with the socket bound, refused (closed) or invalid before its first
        # await (when the timer cannot have fired): the timer needs no second look.
        self._answering_hello = True
        try:
            await self._hello(data)
        finally:
            self._answering_hello = False

    async def _hello(self, data: dict[str, Any]) -> None:
        fields = check(HelloIn, data)
        client = self.scope.get("client") or ("unknown", 0)
        headers = dict(self.scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1")
        agent = headers.get(b"user-agent", b"").decode("latin-1")
        if pgpool.available() and await self._resume(fields, origin, agent):
            return
        # Two trips to the database thread, not five: after a deploy every widget says hello
        # again at once, and each trip queues behind all the others.
        session = await db(self._session)(fields, client[0], origin, agent)
        visitor = session.visitor
        if visitor is None:  # someone new: nothing stored until they write
            pending = session.pending
            assert pending is not None
            # Subscribed and online under the ID to be: what the first write causes (the
            # offline notice, a reply) comes live, as to anyone else.
            for group in (
                events.visitor_group(pending.visitor_id),
                events.site_group(pending.site.id),
            ):
                await self.channel_layer.group_add(group, self.channel_name)
            await db(presence.store().connect)("visitor", pending.visitor_id.hex, self.channel_name)
            self._hello_timer.cancel()
            self.pending = session.pending
            welcome = await db(services.visitor_welcome)(session, None)
            # The ID to be, signed: a client that loses the first write's answer says hello
            # with it, finds the visitor that write made, and its resend is stored once.
            welcome["pending_token"] = services.pending_token(session)
            await self.send_json({"type": "welcome", **welcome, "messages": []})
            metrics.hello()
            return
        # Subscribe before reading the catch-up, so nothing falls between the two.
        for group in (events.visitor_group(visitor.id), events.site_group(session.site.id)):
            await self.channel_layer.group_add(group, self.channel_name)
        welcome = await db(self._welcome)(session, fields.get("cursor"))
        self._hello_timer.cancel()
        self.visitor = visitor  # only now: a hello that failed above leaves the socket unbound
        logs.bind(visitor=visitor.id)
        await self.send_json(welcome)
        metrics.hello()

    async def _resume(self, fields: dict[str, Any], origin: str, user_agent: str) -> bool:
        """A returning visitor's hello, answered from the event loop: one statement
        (``services.resume``), the site as this process last read it (``site_cache``).
        False: not one this path answers; the full path does, from the site as stored."""
        site = await site_cache.site_by_key(fields["site_key"])
        if site is None or not selectors.origin_allowed(site, origin):
            return False
        who = resume.returning(site, fields)
        if who is None:
            return False
        # Subscribed before the catch-up is read, so nothing falls between the two. Should
        # the token not be enough (an identified visitor's, without the proof), what these
        # groups brought meanwhile is dropped (``hd_event``).
        groups = [events.visitor_group(who.visitor_id), events.site_group(site.id)]
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        resumed = await resume.visitor_resume(
            site=site, who=who, fields=fields, user_agent=user_agent
        )
        if resumed is None:
            for group in groups:
                await self.channel_layer.group_discard(group, self.channel_name)
            return False
        welcome = await resume.welcome(resumed, socket=self.channel_name)
        self._hello_timer.cancel()
        self.visitor = resumed.session.visitor
        logs.bind(visitor=who.visitor_id)
        await self.send_json(welcome)
        metrics.hello()
        return True

    def _groups(self) -> set[str]:
        """The groups of whom this socket speaks for now (none before its hello)."""
        if self.visitor is not None:
            return {events.visitor_group(self.visitor.id), events.site_group(self.visitor.site_id)}
        if self.pending is not None:
            return {
                events.visitor_group(self.pending.visitor_id),
                events.site_group(self.pending.site.id),
            }
        return set()

    async def hd_event(self, message: dict[str, Any]) -> None:
        """Only what this socket's own groups sent: events queue while a frame is answered,
        and a hello may have joined a group that turned out not to be this socket's."""
        group = message.get("group")
        if group is not None and group not in self._groups():
            return
        await super().hd_event(message)

    def _session(
        self, fields: dict[str, Any], address: str, origin: str, user_agent: str
    ) -> services.VisitorSession:
        """Who says hello: the site (its origin allowed), and the visitor their token names,
        or someone pending (made by their first write, ``services.visitor_first_write``)."""
        site = selectors.site_by_key(fields["site_key"])
        if site is not None and not selectors.origin_allowed(site, origin):
            # Before anything is created: a page the site did not allow learns nothing.
            raise ClientError(
                "forbidden_origin", "This site does not allow chat from this page.", CLOSE_ORIGIN
            )
        try:
            return services.visitor_session_from_hello(
                fields, address=address, site=site, user_agent=user_agent
            )
        except services.UnknownSite:
            raise ClientError(
                "unknown_site", "No site has this widget key.", CLOSE_UNKNOWN_SITE
            ) from None
        except tokens.InvalidToken as exc:
            raise ClientError("invalid_token", str(exc), CLOSE_AUTH) from None

    async def _created(self, session: services.VisitorSession) -> None:
        """The first write made the visitor: this socket is theirs now, and the client gets
        its token in a second welcome, before the write's answer."""
        assert session.visitor is not None and self.pending is not None
        promised = self.pending.visitor_id  # its group joined at hello
        if session.visitor.id != promised:  # a signed-in user another device made first
            await self.channel_layer.group_add(
                events.visitor_group(session.visitor.id), self.channel_name
            )
            await self.channel_layer.group_discard(
                events.visitor_group(promised), self.channel_name
            )
            await db(presence.store().disconnect)("visitor", promised.hex, self.channel_name)
        welcome = await db(self._welcome)(session, None)
        self.visitor, self.pending = session.visitor, None
        logs.bind(visitor=session.visitor.id)
        await self.send_json(welcome)

    def _first_write(self, write: Callable[[Visitor], Any]) -> tuple[Any, Any]:
        """``write`` as the visitor this socket is, made now if it is still pending."""
        if self.visitor is not None:
            return None, write(self.visitor)
        assert self.pending is not None
        return services.visitor_first_write(pending=self.pending, write=write)

    async def visitor_start(self, data: dict[str, Any]) -> None:
        """The client is about to write over HTTP (a file): the visitor is made now."""
        if self.visitor is None:
            session, _ = await db(self._first_write)(lambda visitor: None)
            await self._created(session)

    def _welcome(
        self, session: services.VisitorSession, cursor: dict[str, Any] | None
    ) -> dict[str, Any]:
        visitor = session.visitor
        assert visitor is not None  # a pending session's welcome has no catch-up
        conversation, messages = selectors.visitor_catch_up(
            visitor, cursor, settings.VISITOR_HISTORY_LIMIT
        )
        metrics.messages_delivered("catch_up", "visitor", len(messages))
        if conversation is not None and messages:
            offline_services.offline_mark_delivered_to_visitor(
                conversation=conversation, up_to_seq=messages[-1].seq
            )
        welcome = {
            "type": "welcome",
            **services.visitor_welcome(session, conversation),
            "messages": selectors.message_payloads(messages, audience="visitor"),
        }
        # Online from now (the last step: a hello that failed leaves no presence behind).
        presence.store().connect("visitor", visitor.id.hex, self.channel_name)
        return welcome

    @metrics.acked("visitor")
    async def message_send(self, data: dict[str, Any]) -> None:
        client_id, body, fields = check_message(data)
        session, result = None, None
        tried = (
            self.visitor is not None and self.expected is not None and not fields["attachment_ids"]
        )
        if tried:  # the next message of a conversation under way: one statement, off the thread
            assert self.visitor is not None and self.expected is not None
            result = await append.visitor_message_append(
                visitor=self.visitor, expected=self.expected, client_id=client_id, body=body
            )
        if result is None:
            try:
                session, result = await db(self._first_write)(
                    lambda visitor: self._store_message(
                        visitor, client_id, body, fields["attachment_ids"], counted=tried
                    )
                )
            except NotYours as exc:
                raise ClientError("not_found", str(exc)) from None
            agent_id = result.message.conversation.assigned_agent_id if result.created else None
            if agent_id and pgpool.available():
                self.expected = append.Expected(agent_id)
        if session is not None:
            await self._created(session)
        logs.bind(conversation=result.message.conversation_id)
        await self.send_json(
            {
                "type": "message.ack",
                "client_id": str(client_id),
                "message": result.payload(audience="visitor"),
            }
        )

    def _store_message(
        self,
        visitor: Visitor,
        client_id: uuid.UUID,
        body: str,
        attachment_ids: list[uuid.UUID],
        *,
        counted: bool = False,
    ) -> services.SendResult:
        """Counted against the visitor's rate (unless the hot path counted it), then stored:
        one trip to the database thread (every trip queues behind all the process's others,
        so a message makes one)."""
        if not counted:
            ratelimit.hit("visitor_messages", visitor.id.hex, what="messages")
        return services.message_send_by_visitor(
            visitor=visitor, client_id=client_id, body=body, attachment_ids=attachment_ids
        )

    async def receipt(self, data: dict[str, Any]) -> None:
        """What this client has received and shown; the agent sees "Delivered" and "Seen"."""
        fields = check(ReceiptIn, data)
        if self.visitor is None:  # pending: no conversation is theirs
            raise ClientError("not_found", "No such conversation of yours.")
        if not await db(services.visitor_receipt)(visitor=self.visitor, **fields):
            raise ClientError("not_found", "No such conversation of yours.")

    async def rating(self, data: dict[str, Any]) -> None:
        """A rating of one of this visitor's resolved conversations (helpdesk.satisfaction)."""
        fields = check(satisfaction.RatingIn, data)
        if self.visitor is None:  # pending: no conversation is theirs
            raise ClientError("not_found", "No such conversation of yours.")
        try:
            rating = await db(satisfaction.rating_give)(visitor=self.visitor, **fields)
        except satisfaction.NotRateable as exc:
            raise ClientError(exc.code, exc.detail) from None
        await self.send_json({"type": "rating", **satisfaction.rating_payload(rating)})

    async def visitor_email(self, data: dict[str, Any]) -> None:
        """The offline form: an address for follow-ups, used once verified by its link."""
        fields = check(EmailIn, data)
        session, _ = await db(self._first_write)(
            lambda visitor: notification_services.visitor_email_set(
                visitor=visitor, email=fields["email"]
            )
        )
        if session is not None:
            await self._created(session)
        await self.send_json({"type": "visitor.email", "email": fields["email"], "verified": False})

    async def typing(self, data: dict[str, Any]) -> None:
        """Never stored; at most one a second passes (the rest are dropped, not refused)."""
        fields = check(TypingIn, data)
        if self._typing_throttled(fields["active"]) or self.visitor is None:
            return  # dropped, not refused (a pending visitor has no conversation to type in)
        await db(typing_services.typing_by_visitor)(
            visitor=self.visitor, active=fields["active"], preview=fields["preview"]
        )

    async def refresh_presence(self) -> None:
        if self.visitor is not None:
            await db(presence.store().connect)("visitor", self.visitor.id.hex, self.channel_name)

    async def disconnect(self, code: int) -> None:
        timer = getattr(self, "_hello_timer", None)
        if timer is not None:
            timer.cancel()
        # Presence from the loop: a page closing (each navigation) no longer waits its turn on
        # the database thread for a Redis call.
        if self.visitor is None and self.pending is not None:
            await presence.disconnect_from_loop(
                "visitor", self.pending.visitor_id.hex, self.channel_name
            )
            for group in (
                events.visitor_group(self.pending.visitor_id),
                events.site_group(self.pending.site.id),
            ):
                await self.channel_layer.group_discard(group, self.channel_name)
        if self.visitor is not None:
            await presence.disconnect_from_loop("visitor", self.visitor.id.hex, self.channel_name)
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


def _reply(actor: Actor, agent: Agent, conversation_id: Any, **message: Any) -> services.SendResult:
    """The agent's reply in one trip to the database thread: the conversation, if the agent
    may see it, then the store (which decides under the row lock whether they may reply)."""
    conversation, refused = _conversation_for(actor, conversation_id, Action.OPEN)
    if conversation is None:
        raise ClientError("not_found", "No such conversation in your inbox.")
    if refused:
        raise ClientError("not_assigned", refused)
    return services.message_send_by_agent(
        actor=actor, agent=agent, conversation=conversation, **message
    )


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
            "conversation.reopen": self.conversation_reopen,
            "conversation.snooze": self.conversation_snooze,
            "conversation.claim": self.conversation_claim,
            "note.add": self.note_add,
            "typing": self.typing,
            "visitor.update": self.visitor_update,
            "replies.save": self.replies_save,
            "replies.delete": self.replies_delete,
            "search.messages": self.search_messages,
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
        logs.bind(agent=self.agent.id)
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
                "replies": await db(selectors.saved_replies_for)(self.actor),
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

    @property
    def me(self) -> Agent:
        """The agent of this socket: handlers run only after ``connect`` found one."""
        assert self.agent is not None
        return self.agent

    @property
    def acting(self) -> Actor:
        """The access rule's view of the agent, as of the last ``still_authorised``."""
        assert self.actor is not None
        return self.actor

    def _current_actor(self) -> Actor | None:
        return access.actor_for_session(self.scope.get("session"), self.scope.get("user"))

    async def status_set(self, data: dict[str, Any]) -> None:
        fields = check(StatusIn, data)
        await db(routing_services.agent_set_status)(agent_id=self.me.id, status=fields["status"])

    async def conversation_transfer(self, data: dict[str, Any]) -> None:
        fields = check(TransferIn, data)
        conversation = await self._conversation(fields["conversation_id"], Action.TRANSFER)
        if not await db(selectors.transfer_target_exists)(
            agent_id=fields["to_agent_id"], group_id=fields["to_group_id"]
        ):
            raise ClientError("not_found", "No such agent or group.")
        try:
            await db(routing_services.conversation_transfer)(
                conversation_id=conversation.id,
                by_name=self.me.display_name,
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
                conversation_id=conversation.id, by_name=self.me.display_name, actor=self.actor
            )
        except routing_services.NotAllowed as exc:
            raise ClientError("not_assigned", str(exc)) from None

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
        history = await db(selectors.agent_history)(
            self.actor, conversation.id, fields["after_seq"]
        )
        await self.send_json({"type": "history", **history})

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
        if not await db(selectors.tags_exist)(fields["tag_ids"]):
            raise ClientError("not_found", "No such tag (managers define tags).")
        await db(services.conversation_set_tags)(
            agent=self.agent, conversation=conversation, tag_ids=fields["tag_ids"]
        )

    async def conversation_read(self, data: dict[str, Any]) -> None:
        fields = check(ReadIn, data)
        conversation = await self._conversation(fields["conversation_id"], Action.OPEN)
        await db(services.conversation_mark_read)(
            agent=self.agent, conversation=conversation, seq=fields["seq"]
        )

    @metrics.acked("agent")
    async def message_send(self, data: dict[str, Any]) -> None:
        client_id, body, fields = check_message(data, AgentMessageIn)
        # A resend of a stored reply is answered with it even if the agent may no longer
        # reply (the service finds it first), so the check under the row lock decides.
        try:
            result = await db(_reply)(
                self.actor,
                self.agent,
                fields["conversation_id"],
                client_id=client_id,
                body=body,
                attachment_ids=fields["attachment_ids"],
            )
        except services.NotAssigned as exc:
            raise ClientError("not_assigned", str(exc)) from None
        except NotYours as exc:
            raise ClientError("not_found", str(exc)) from None
        await self.send_json(
            {
                "type": "message.ack",
                "client_id": str(client_id),
                "message": result.payload(audience="agent"),
            }
        )

    async def conversation_reopen(self, data: dict[str, Any]) -> None:
        fields = check(ResolveIn, data)
        conversation = await self._conversation(fields["conversation_id"], Action.RESOLVE)
        try:
            await db(services.conversation_reopen)(
                conversation_id=conversation.id, by_name=self.me.display_name, actor=self.actor
            )
        except routing_services.NotAllowed as exc:
            raise ClientError("not_assigned", str(exc)) from None

    async def conversation_snooze(self, data: dict[str, Any]) -> None:
        fields = check(SnoozeIn, data)
        conversation = await self._conversation(fields["conversation_id"], Action.RESOLVE)
        try:
            await db(services.conversation_snooze)(
                conversation_id=conversation.id, until=fields["until"], actor=self.actor
            )
        except routing_services.NotAllowed as exc:
            raise ClientError("not_assigned", str(exc)) from None

    async def conversation_claim(self, data: dict[str, Any]) -> None:
        fields = check(ResolveIn, data)
        conversation = await self._conversation(fields["conversation_id"], Action.CLAIM)
        try:
            await db(services.conversation_claim)(
                conversation_id=conversation.id, agent=self.agent, actor=self.actor
            )
        except routing_services.NotAllowed as exc:
            raise ClientError("not_assigned", str(exc)) from None

    async def note_add(self, data: dict[str, Any]) -> None:
        """An internal note; mentions notify colleagues who may see the conversation."""
        fields = check(NoteIn, data)
        conversation = await self._conversation(fields["conversation_id"], Action.OPEN)
        result = await db(services.note_add)(
            agent=self.agent,
            conversation=conversation,
            client_id=fields["client_id"],
            body=fields["body"],
            mention_ids=fields["mention_ids"],
        )
        await self.send_json(
            {
                "type": "note.ack",
                "client_id": str(fields["client_id"]),
                "note": await db(payloads.note)(result.note),
            }
        )

    async def typing(self, data: dict[str, Any]) -> None:
        fields = check(TypingIn, data)
        if fields.get("conversation_id") is None:
            raise ClientError("invalid_message", "conversation_id: This field is required.")
        conversation = await self._conversation(fields["conversation_id"], Action.REPLY)
        if self._typing_throttled(fields["active"]):
            return
        await db(typing_services.typing_by_agent)(
            agent=self.agent, conversation=conversation, active=fields["active"]
        )

    async def visitor_update(self, data: dict[str, Any]) -> None:
        """Correct the visitor's name or email; every tab hears the new details."""
        fields = check(VisitorUpdateIn, data)
        conversation = await self._conversation(fields["conversation_id"], Action.TAG)
        panel = await db(self._visitor_corrected)(conversation, fields)
        await self.send_json(
            {"type": "visitor", "conversation_id": str(conversation.id), "visitor": panel}
        )

    def _visitor_corrected(self, conversation: Any, fields: dict[str, Any]) -> dict[str, Any]:
        services.visitor_correct(
            visitor=conversation.visitor, name=fields.get("name"), email=fields.get("email")
        )
        services.conversation_changed(
            conversation=conversation, agent_ids=[self.me.id], flush=False
        )
        return selectors.visitor_panel(self.acting, conversation)

    async def replies_save(self, data: dict[str, Any]) -> None:
        fields = check(ReplyIn, data)
        reply_id = fields.pop("id")
        try:
            await db(services.saved_reply_save)(actor=self.actor, reply_id=reply_id, **fields)
        except services.ReplyNotAllowed as exc:
            raise ClientError("not_found", str(exc)) from None
        await self.send_replies()

    async def replies_delete(self, data: dict[str, Any]) -> None:
        fields = check(ReplyDeleteIn, data)
        if not await db(services.saved_reply_delete)(actor=self.actor, reply_id=fields["id"]):
            raise ClientError("not_found", "No such saved reply of yours.")
        await self.send_replies()

    async def send_replies(self) -> None:
        replies = await db(selectors.saved_replies_for)(self.actor)
        await self.send_json({"type": "replies", "replies": replies})

    async def search_messages(self, data: dict[str, Any]) -> None:
        fields = check(SearchIn, data)
        found = await db(selectors.message_search)(self.actor, fields["q"])
        await self.send_json({"type": "search.results", **found})

    async def disconnect(self, code: int) -> None:
        if self.agent is None:
            return
        await self.channel_layer.group_discard(events.agent_group(self.agent.id), self.channel_name)
        last = await db(presence.store().disconnect)("agent", str(self.agent.id), self.channel_name)
        await db(routing_services.agent_seen)(agent_id=self.agent.id, every=timedelta(0))
        if last:
            await db(services.agent_went_offline)(agent_id=self.agent.id)
