"""A stand-in for a browser push service (FCM, Mozilla autopush…) on loopback, and a
"browser" that subscribes to it: a P-256 key pair and auth secret, as a real browser makes.

The server receives the real encrypted request our transport sends; ``Browser.read`` decrypts
it (RFC 8291, aes128gcm) with the subscription's private key, and ``check_vapid`` verifies the
VAPID JWT (RFC 8292) against the server's public key, as a real push service would.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class PushService:
    """Answers 201 with a Location, unless ``answers`` says otherwise for a path."""

    port: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    received: queue.Queue[Received] = field(default_factory=queue.Queue)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/push/{name}"

    def next(self, timeout: float = 10) -> Received:
        return self.received.get(timeout=timeout)

    def none_pending(self) -> bool:
        return self.received.empty()


def start(service: PushService) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            service.received.put(Received(self.path, headers, body))
            status = service.answers.get(self.path, 201)
            self.send_response(status)
            if status == 201:
                self.send_header("Location", f"http://127.0.0.1:{service.port}/m/{time.time_ns()}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", service.port), Handler)
    service.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Browser:
    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict[str, Any]:
        """What ``PushSubscription.toJSON()`` gives the page."""
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }

    def read(self, request: Received) -> dict[str, Any]:
        assert request.headers["content-encoding"] == "aes128gcm"
        plain = http_ece.decrypt(
            request.body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


def check_vapid(request: Received, public_key: str, audience: str) -> dict[str, Any]:
    """Verify ``Authorization: vapid t=<JWT>, k=<key>`` and return the JWT's claims."""
    scheme, _, params = request.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    assert parts["k"] == public_key
    header, claims, signature = parts["t"].split(".")
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged
    decoded = json.loads(unb64url(claims))
    assert json.loads(unb64url(header))["alg"] == "ES256"
    assert decoded["aud"] == audience and decoded["exp"] > time.time()
    return decoded
