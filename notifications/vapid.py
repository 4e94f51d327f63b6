"""VAPID keys for Web Push: a P-256 key pair, both halves in the URL-safe base64 forms that
browsers (``applicationServerKey``) and pywebpush expect. No Django imports: settings use it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def generate() -> tuple[str, str]:
    """(public key: the uncompressed point, 65 bytes; private key: the raw scalar, 32 bytes)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(public), b64url(private)


def keys_in(directory: Path) -> tuple[str, str]:
    """The embedded default's keys: made once per data directory, so subscriptions made
    before a restart still work after it."""
    path = directory / "vapid.json"
    if not path.exists():
        public, private = generate()
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"public": public, "private": private}), encoding="utf-8")
        path.chmod(0o600)
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["public"], data["private"]
