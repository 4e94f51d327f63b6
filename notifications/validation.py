"""Input checks for push subscriptions (the browser's ``PushSubscription.toJSON()``), app
devices and WeChat consents."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from rest_framework import serializers

from helpdesk.validation import InvalidInput, check


class KeysIn(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)


class SubscriptionIn(serializers.Serializer):
    endpoint = serializers.URLField(max_length=2000)
    keys = KeysIn()


class EndpointIn(serializers.Serializer):
    endpoint = serializers.URLField(max_length=2000)


def _b64url(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return b""


def push_service_allowed(endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    if parts.scheme != "https" and not (parts.scheme == "http" and settings.PUSH_ALLOW_HTTP):
        return False
    host = (parts.hostname or "").lower()
    return any(
        host.endswith(allowed) if allowed.startswith(".") else host == allowed
        for allowed in (h.lower() for h in settings.PUSH_SERVICE_HOSTS)
    )


def check_subscription(data: Any) -> dict[str, str]:
    """endpoint, p256dh, auth, or ``InvalidInput`` saying what is wrong."""
    try:
        fields = check(SubscriptionIn, data)
    except InvalidInput as exc:
        raise InvalidInput("invalid_subscription", exc.detail) from None
    endpoint, keys = fields["endpoint"], fields["keys"]
    if not push_service_allowed(endpoint):
        raise InvalidInput(
            "push_service_not_allowed",
            "The endpoint is not an https URL of a known browser push service.",
        )
    p256dh = _b64url(keys["p256dh"])
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise InvalidInput("invalid_subscription", "keys.p256dh: not a P-256 public key.")
    if len(_b64url(keys["auth"])) != 16:
        raise InvalidInput("invalid_subscription", "keys.auth: not a 16-byte secret.")
    return {"endpoint": endpoint, "p256dh": keys["p256dh"], "auth": keys["auth"]}


def check_endpoint(data: Any) -> str:
    try:
        return str(check(EndpointIn, data)["endpoint"])
    except InvalidInput as exc:
        raise InvalidInput("invalid_subscription", exc.detail) from None


class DeviceIn(serializers.Serializer):
    platform = serializers.ChoiceField(
        choices=["fcm", "apns"],
        help_text="fcm: an FCM registration token (Android, or iOS through Firebase); apns: "
        "an APNs device token (iOS), in hex.",
    )
    token = serializers.CharField(max_length=512)


# What each platform's tokens look like: FCM's are URL-safe text with colons, APNs's hex.
TOKEN_SHAPES = {
    "fcm": re.compile(r"[A-Za-z0-9_:.\-]{20,512}"),
    "apns": re.compile(r"(?:[0-9a-fA-F]{2}){32,100}"),
}


def check_device(data: Any) -> dict[str, str]:
    """platform and token, or ``InvalidInput`` (``invalid_device``) saying what is wrong."""
    try:
        fields = check(DeviceIn, data)
    except InvalidInput as exc:
        raise InvalidInput("invalid_device", exc.detail) from None
    if not TOKEN_SHAPES[fields["platform"]].fullmatch(fields["token"]):
        kind = "hex, 64 to 200 digits" if fields["platform"] == "apns" else "an FCM token"
        raise InvalidInput("invalid_device", f"token: not {kind}.")
    return {"platform": fields["platform"], "token": fields["token"]}


class WechatLoginIn(serializers.Serializer):
    code = serializers.CharField(
        max_length=128, help_text="What wx.login() gave the mini-program (valid 5 minutes, once)."
    )


class ConsentsIn(serializers.Serializer):
    accepted = serializers.ListField(
        child=serializers.CharField(max_length=128),
        max_length=10,
        allow_empty=True,
        help_text='The template IDs wx.requestSubscribeMessage answered "accept" for.',
    )
