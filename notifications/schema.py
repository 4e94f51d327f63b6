"""What the app-push and WeChat endpoints answer, for the OpenAPI schema."""

from __future__ import annotations

from rest_framework import serializers


class DeviceOut(serializers.Serializer):
    platform = serializers.ChoiceField(choices=["fcm", "apns"])
    token = serializers.CharField()


class WechatOut(serializers.Serializer):
    linked = serializers.BooleanField(help_text="The visitor's openid is known (wx.login).")
    templates = serializers.ListField(
        child=serializers.CharField(), help_text="Ask consent for these template IDs."
    )
    available = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Per template ID: messages the consents given so far still allow.",
    )
