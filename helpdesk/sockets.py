"""The socket's frame handling shared by every consumer (visitors', agents', supervisors'):
parse, authorise each frame, answer errors, send events; the close codes they use.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from helpdesk import logs, metrics, ratelimit
from helpdesk.validation import InvalidInput

log = logging.getLogger(__name__)

HELLO_TIMEOUT_SECONDS = 10
TYPING_EVERY_SECONDS = 1.0
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
        goes through ``db`` (``dbtrips.database_trip``), which closes stale connections around
        itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """As Channels', without its trip to the database thread after ``disconnect``
        (``aclose_old_connections``), for the reason ``dispatch`` gives: every page that
        closes (each navigation, a reconnect storm) queued there for nothing."""
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        """As Channels', except that a client gone mid-send (uvicorn raises
        ``ClientDisconnected``, an ``OSError``) is not an error: the consumer goes on to
        receive the disconnect, so ``disconnect()`` runs (presence, groups). Raised, it ended
        the consumer without it, and the person stayed "online" until the presence TTL."""
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except OSError as exc:
            log.debug("send to a closed socket dropped: %s", exc)

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
        logs.frame(type_, data)
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
            frame: dict[str, Any] = {"type": "error", "code": "rate_limited", "detail": str(exc)}
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

    _typing_at: float = 0.0

    def _typing_throttled(self, active: bool) -> bool:
        """Typing frames pass at most once a second per socket; a stop always passes."""
        now = time.monotonic()
        if active and now - self._typing_at < TYPING_EVERY_SECONDS:
            return True
        self._typing_at = now if active else 0.0
        return False

    async def hd_event(self, message: dict[str, Any]) -> None:
        await self.send(text_data=message["text"])
        metrics.frame_sent(self.scope, message["text"])

    async def hd_close(self, message: dict[str, Any]) -> None:
        await self.send_error("not_authenticated", "Your session has ended; sign in again.")
        await self.close(CLOSE_AUTH)

    async def ping(self, data: dict[str, Any]) -> None:
        await self.refresh_presence()
        await self.send_json({"type": "pong"})

    async def refresh_presence(self) -> None:
        raise NotImplementedError
