"""Stand-ins for the two app push services on loopback, each checking what the real one
checks:

- ``Fcm``: FCM HTTP v1 and Google's OAuth 2.0 token endpoint. The token endpoint verifies the
  service account's signed JWT (RS256, its issuer, audience and scope) and issues access
  tokens; the send endpoint accepts only those, and records each message.
- ``Apns``: APNs over HTTP/2 (hypercorn; a request over HTTP/1.1 is refused, as Apple does).
  It verifies the provider token (ES256 with the site's key, its ``kid`` and team) and the
  ``apns-topic``, and records each notification.

Each answers as told for a device token (``answers``): an error status and reason.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import queue
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypercorn.asyncio import serve
from hypercorn.config import Config

from tests.processes import free_port


@dataclass
class Sent:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]
    http_version: str = "1.1"


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _wait_listening(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)  # not listening yet; bounded by the deadline
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


# ---- FCM -----------------------------------------------------------------------------------------


@dataclass
class Fcm:
    project: str = "acme-shop"
    client_email: str = "push@acme-shop.iam.gserviceaccount.com"
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    port: int = 0
    # device token → (HTTP status, FCM errorCode)
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)
    received: queue.Queue[Sent] = field(default_factory=queue.Queue)
    tokens_issued: list[str] = field(default_factory=list)
    # Access tokens the send endpoint no longer honours (expired early, revoked).
    revoked: set[str] = field(default_factory=set)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.base}/token"

    def service_account(self) -> dict[str, str]:
        """The JSON key file the Firebase console hands out (its token_uri is Google's)."""
        return {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": "3f9a0c",
            "private_key": _pem(self.key),
            "client_email": self.client_email,
            "client_id": "1234567890",
            "token_uri": "https://oauth2.googleapis.com/token",
        }

    def next(self, timeout: float = 10) -> Sent:
        return self.received.get(timeout=timeout)

    def none_pending(self) -> bool:
        return self.received.empty()

    def start(self) -> Fcm:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/token":
                    self._answer(*stand_in._token(raw))
                else:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    self._answer(*stand_in._send(self.path, headers, raw))

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def _token(self, raw: bytes) -> tuple[int, dict[str, Any]]:
        form = dict(urllib.parse.parse_qsl(raw.decode()))
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type"}
        try:
            claims = jwt.decode(
                form["assertion"],
                self.key.public_key(),
                algorithms=["RS256"],
                # Google's token endpoint wants its own address as the audience, wherever
                # the assertion is posted.
                audience="https://oauth2.googleapis.com/token",
            )
        except (KeyError, jwt.PyJWTError) as exc:
            return 400, {"error": "invalid_grant", "error_description": str(exc)}
        if claims["iss"] != self.client_email or "firebase.messaging" not in claims["scope"]:
            return 400, {"error": "invalid_scope"}
        token = f"ya29.stand-in-{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _send(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        if path != f"/v1/projects/{self.project}/messages:send":
            return 404, {"error": {"code": 404, "status": "NOT_FOUND"}}
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.tokens_issued or bearer in self.revoked:
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}
        body = json.loads(raw)
        self.received.put(Sent(path, headers, body))
        status, code = self.answers.get(body["message"]["token"], (200, ""))
        if status != 200:
            return status, {
                "error": {
                    "code": status,
                    "status": "NOT_FOUND" if status == 404 else "UNAVAILABLE",
                    "message": "stand-in error",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                            "errorCode": code,
                        }
                    ],
                }
            }
        return 200, {"name": f"projects/{self.project}/messages/{time.time_ns()}"}


# ---- APNs ---------------------------------------------------------------------------------------


@dataclass
class Apns:
    team_id: str = "TEAM123456"
    key_id: str = "KEY1234567"
    bundle_id: str = "com.acme.shop"
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    port: int = 0
    # device token → (HTTP status, APNs reason)
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)
    received: queue.Queue[Sent] = field(default_factory=queue.Queue)
    # Provider tokens refused as expired (ExpiredProviderToken), to test a fresh one is made.
    expired: set[str] = field(default_factory=set)
    provider_tokens: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def key_pem(self) -> str:
        return _pem(self.key)

    def next(self, timeout: float = 10) -> Sent:
        return self.received.get(timeout=timeout)

    def none_pending(self) -> bool:
        return self.received.empty()

    def start(self) -> Apns:
        self.port = free_port()
        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.accesslog = None
        config.errorlog = None
        self._loop = asyncio.new_event_loop()

        async def main() -> None:
            self._stop = asyncio.Event()
            await serve(self._app, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]

        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(main(),), daemon=True
        )
        self._thread.start()
        _wait_listening(self.port)
        return self

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(10)

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, answer, extra = self._handle(scope, headers, raw)
        data = json.dumps(answer).encode() if answer else b""
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *extra],
            }
        )
        await send({"type": "http.response.body", "body": data})

    def _handle(
        self, scope: dict[str, Any], headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        if scope["http_version"] != "2":
            return 505, {"reason": "APNs speaks HTTP/2 only"}, []
        token = headers.get("authorization", "").removeprefix("bearer ")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self.key.public_key(), algorithms=["ES256"])
        except jwt.PyJWTError:
            return 403, {"reason": "InvalidProviderToken"}, []
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            return 403, {"reason": "InvalidProviderToken"}, []
        if token not in self.provider_tokens:
            self.provider_tokens.append(token)
        if token in self.expired:
            return 403, {"reason": "ExpiredProviderToken"}, []
        if headers.get("apns-topic") != self.bundle_id:
            return 400, {"reason": "DeviceTokenNotForTopic"}, []
        path = scope["path"]
        self.received.put(Sent(path, headers, json.loads(raw), scope["http_version"]))
        status, reason = self.answers.get(path.removeprefix("/3/device/"), (200, ""))
        if status != 200:
            return status, {"reason": reason}, []
        apns_id = f"00000000-0000-4000-8000-{next(self._ids):012d}"
        return 200, {}, [(b"apns-id", apns_id.encode())]
