"""Live supervision: the supervisor socket (``/ws/supervisor/``) and its page (``/supervision/``).

For managers (of a group), site administrators and superusers, with or without an agent
profile. The socket sends the whole view (``supervision``, helpdesk.supervision_selectors)
on connect, again shortly after anything happens (every event rings a doorbell this socket
listens to; bursts are read once) and every ``REFRESH_SECONDS`` (escalations and reminders
come from the scan, which sends no event). From it a supervisor opens a conversation of
their groups, reassigns it, or takes it over: the same services as the inbox, under the same
access rule (docs/protocol.md, "Supervision").
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from helpdesk import access, events, payloads, selectors, supervision_selectors
from helpdesk.access import Action, Actor
from helpdesk.models import Agent, AgentGroup
from helpdesk.sockets import CLOSE_AUTH, CLOSE_ORIGIN, ClientError, Handler, JsonConsumer
from helpdesk.validation import OpenIn, ResolveIn, TransferIn, check
from routing import services as routing_services

db = database_sync_to_async
REFRESH_SECONDS = 15
# A burst of events (a busy minute) is read once: at most one view every this many seconds.
DEBOUNCE_SECONDS = 0.5


class SupervisorConsumer(JsonConsumer):
    actor: Actor | None = None

    def handlers(self) -> dict[str, Handler]:
        return {
            "conversation.open": self.conversation_open,
            "conversation.transfer": self.conversation_transfer,
            "conversation.take": self.conversation_take,
            "refresh": self.refresh,
            "ping": self.ping,
        }

    async def connect(self) -> None:
        await self.accept()
        origin = dict(self.scope.get("headers", [])).get(b"origin", b"").decode("latin-1")
        if not selectors.origin_is_ours(origin):
            await self.send_error("forbidden_origin", "Supervisor sockets open from our own pages.")
            await self.close(CLOSE_ORIGIN)
            return
        self.actor = await db(access.actor_for)(self.scope.get("user"))
        if self.actor is None or not self.actor.oversees_any:
            await self.send_error(
                "not_authenticated", "Sign in as a manager of a team or a site first."
            )
            await self.close(CLOSE_AUTH)
            self.actor = None
            return
        self._pending: asyncio.TimerHandle | None = None
        await self.channel_layer.group_add(events.SUPERVISION_GROUP, self.channel_name)
        self._ticker = asyncio.ensure_future(self._tick())
        await self.send_view()

    async def still_authorised(self) -> bool:
        """Every frame: the session still exists and the person still oversees something."""
        if self.actor is None:
            return False
        self.actor = await db(self._current_actor)()
        return self.actor is not None and self.actor.oversees_any

    def _current_actor(self) -> Actor | None:
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        if not key or not session.exists(key):
            return None
        return access.actor_for(self.scope.get("user"))

    # ---- the view -----------------------------------------------------------------------------

    async def send_view(self) -> None:
        if self.actor is None:
            return
        self.actor = await db(self._current_actor)()
        if self.actor is None or not self.actor.oversees_any:
            await self.hd_close({})
            return
        await self.send_json(await db(supervision_selectors.snapshot)(self.actor))

    async def hd_doorbell(self, message: dict[str, Any]) -> None:
        """Something happened somewhere: read the view again soon (once per burst)."""
        if self._pending is None:
            loop = asyncio.get_running_loop()
            self._pending = loop.call_later(DEBOUNCE_SECONDS, self._ring)

    def _ring(self) -> None:
        self._pending = None
        self._reading = asyncio.ensure_future(self.send_view())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            await self.send_view()

    async def refresh(self, data: dict[str, Any]) -> None:
        await self.send_view()

    async def refresh_presence(self) -> None:
        """A supervisor is not an agent on duty: their socket counts for nobody's presence."""

    # ---- acting on a conversation ---------------------------------------------------------------

    async def _conversation(self, conversation_id: Any, action: Action) -> Any:
        assert self.actor is not None
        conversation = await db(access.conversation_for)(self.actor, conversation_id)
        if conversation is None:
            raise ClientError("not_found", "No such conversation in your teams.")
        if not await db(access.may)(self.actor, action, conversation):
            raise ClientError("not_assigned", access.refusal(self.actor, action, conversation))
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

    async def conversation_transfer(self, data: dict[str, Any]) -> None:
        """Reassign to an agent or a team."""
        fields = check(TransferIn, data)
        await self._transfer(
            fields["conversation_id"],
            to_agent_id=fields["to_agent_id"],
            to_group_id=fields["to_group_id"],
            reason=fields["reason"],
        )

    async def conversation_take(self, data: dict[str, Any]) -> None:
        """Take it over: assigned to the supervisor's own agent profile, to answer it in the
        inbox (a manager without one cannot answer, so cannot take over)."""
        fields = check(ResolveIn, data)
        assert self.actor is not None
        if self.actor.agent_id is None:
            raise ClientError(
                "not_assigned", "Only agents answer conversations: you have no agent profile."
            )
        await self._transfer(fields["conversation_id"], to_agent_id=self.actor.agent_id)

    async def _transfer(
        self,
        conversation_id: Any,
        *,
        to_agent_id: int | None = None,
        to_group_id: int | None = None,
        reason: str = "",
    ) -> None:
        conversation = await self._conversation(conversation_id, Action.TRANSFER)
        if not await db(_target_exists)(to_agent_id, to_group_id):
            raise ClientError("not_found", "No such agent or team.")
        assert self.actor is not None
        try:
            await db(routing_services.conversation_transfer)(
                conversation_id=conversation.id,
                by_name=await db(_name_of)(self.actor),
                actor=self.actor,
                to_agent_id=to_agent_id,
                to_group_id=to_group_id,
                reason=reason,
            )
        except routing_services.NotAllowed as exc:
            raise ClientError("not_assigned", str(exc)) from None
        await self.send_json({"type": "transferred", "conversation_id": str(conversation.id)})
        await self.send_view()

    async def disconnect(self, code: int) -> None:
        if self.actor is None:
            return
        ticker = getattr(self, "_ticker", None)
        if ticker is not None:
            ticker.cancel()
        if self._pending is not None:
            self._pending.cancel()
        await self.channel_layer.group_discard(events.SUPERVISION_GROUP, self.channel_name)


def _target_exists(agent_id: int | None, group_id: int | None) -> bool:
    if agent_id is not None:
        return Agent.objects.filter(pk=agent_id, user__is_active=True).exists()
    return group_id is not None and AgentGroup.objects.filter(pk=group_id).exists()


def _name_of(actor: Actor) -> str:
    """How the history names who moved it: their agent name, else their full name."""
    if actor.agent_id is not None:
        return Agent.objects.values_list("display_name", flat=True).get(pk=actor.agent_id)
    user = get_user_model().objects.get(pk=actor.user_id)
    return user.get_full_name() or user.get_username()


# ---- the page ---------------------------------------------------------------------------------------


@login_required
def supervision_page(request: HttpRequest) -> HttpResponse:
    actor = access.actor_for(request.user)
    if actor is None or not actor.oversees_any:
        return render(request, "helpdesk/not_supervisor.html", status=403)
    config = {"ws_path": "/ws/supervisor/", "agent": actor.agent_id is not None}
    return render(request, "helpdesk/supervision.html", {"config": config})
