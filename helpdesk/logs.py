"""Logs an on-call engineer can follow: every line says which request, socket, conversation,
agent or visitor it belongs to, and none carries a message body, an email address or a token.

The IDs live in a context variable, so they follow the work: bound once (by ``RequestIdMiddleware``
for each HTTP request and socket, by the consumers as they learn who is on the socket), they
reach every log line of that request or socket, including the lines written from the database
thread (asgiref copies the context there) and uvicorn's access line.

Production writes JSON lines (python-json-logger); the embedded default writes text.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter

FIELDS = ("request_id", "socket", "frame", "conversation", "agent", "visitor", "task", "task_id")

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("log_context")


def bind(**ids: object) -> None:
    """Add IDs to the current request's or socket's log context (``None`` removes one).
    Only IDs: never a body, an address or a token."""
    current = dict(_context.get({}))
    for key, value in ids.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = str(value)
    _context.set(current)


def start(**ids: object) -> None:
    """A fresh context for a new unit of work (a request, a socket, a task)."""
    _context.set({k: str(v) for k, v in ids.items() if v is not None})


def current() -> dict[str, str]:
    return dict(_context.get({}))


log = logging.getLogger("helpdesk.sockets")


_UUID = re.compile(r"^[0-9a-fA-F-]{32,36}$")


def frame(type_: object, data: dict[str, Any]) -> None:
    """Each socket frame: its type, and the conversation it names (a well-formed ID only)."""
    conversation = data.get("conversation_id")
    bind(
        frame=type_ if isinstance(type_, str) and len(type_) <= 40 else "?",
        conversation=conversation
        if isinstance(conversation, str) and _UUID.match(conversation)
        else None,
    )


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a fresh one."""
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """ASGI middleware around the whole application: one request ID per HTTP request and per
    socket (``X-Request-ID`` when the proxy sends one), bound for everything that runs for it
    and answered in the response's ``X-Request-ID``. Sockets also get their own ID."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", []))
        if scope["type"] == "websocket":
            kind = "agent" if scope.get("path", "").startswith("/ws/agent") else "visitor"
            start(request_id=request_id, socket=f"{kind}-{uuid.uuid4().hex[:12]}")
            await self._socket(scope, receive, send)
            return
        start(request_id=request_id)

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)

    async def _socket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """One line when the socket ends, with every ID the consumer bound on the way (it
        runs in this task), however it ends: a consumer that died on a send to a client
        already gone never reaches its own disconnect handler."""
        code: list[object] = ["none"]

        async def receive_code() -> Any:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                code[0] = message.get("code", 1005)
            return message

        async def send_code(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "websocket.close":
                code[0] = message.get("code", 1000)
            await send(message)

        try:
            await self.app(scope, receive_code, send_code)
        finally:
            log.info("socket closed (code %s)", code[0])


class ContextFilter(logging.Filter):
    """Puts the bound IDs on every record (``record.request_id`` …, and ``record.ids`` as
    ``key=value`` text for the plain format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _context.get({})
        for key in FIELDS:
            setattr(record, key, ids.get(key))
        record.ids = " ".join(f"{k}={ids[k]}" for k in FIELDS if k in ids)
        return True


class RedactTokensFilter(logging.Filter):
    """Secrets that travel in URL paths (the follow-up email's resume link ``/r/<token>/`` and
    the email verification link ``/v/verify/<token>/``) never reach a log line: uvicorn's
    access log and Django's request warnings print paths, so the token is replaced."""

    PATTERN = re.compile(r"(/(?:r|v/verify)/)[^/?#\s\"']+")

    @classmethod
    def redact(cls, text: str) -> str:
        return cls.PATTERN.sub(r"\1[redacted]", text)

    # A record's own attributes; anything else was passed as ``extra`` (Django's request
    # warnings pass the request, whose text shows its path).
    STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
        "message",
        "asctime",
        *FIELDS,
        "ids",
    }

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in list(record.__dict__.items()):
            if key not in self.STANDARD and not isinstance(value, int | float | bool | None):
                setattr(record, key, self.redact(str(value)))
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: self.redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


class Json(JsonFormatter):
    """One JSON object per line: time, level, logger, message and the bound IDs."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("ids", None)
        log_data.pop("color_message", None)  # uvicorn's terminal colours
        for key in FIELDS:
            if log_data.get(key) is None:
                log_data.pop(key, None)


def config(*, json_lines: bool, level: str) -> dict[str, Any]:
    """Django's LOGGING: JSON lines or text, with the IDs and the redaction on the one
    handler every logger writes to, uvicorn's included."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json" if json_lines else "text",
        "filters": ["context", "redact"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": ContextFilter},
            "redact": {"()": RedactTokensFilter},
        },
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(ids)s] %(message)s"},
            "json": {"()": Json},
        },
        "handlers": {"console": handler},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # uvicorn installs its own handlers when it starts, before the application (and
            # so this configuration) is loaded; these replace them so its lines are
            # formatted, tagged and redacted like ours. Levels stay uvicorn's (--log-level).
            "uvicorn": {"handlers": ["console"], "propagate": False},
            "uvicorn.access": {"handlers": ["console"], "propagate": False},
        },
    }
