"""The preferences people edit for themselves on /notifications/, and a site's app and
mini-program settings in the back office."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from google.oauth2 import service_account

from notifications.models import AgentPreferences, ChannelSettings, ManagerPreferences


class AgentPreferencesForm(forms.ModelForm):
    class Meta:
        model = AgentPreferences
        fields = [
            "push",
            "push_after_minutes",
            "email",
            "email_after_minutes",
            "language",
            "timezone",
            "quiet_from",
            "quiet_to",
        ]
        labels = {
            "push": _("Push to my browsers"),
            "push_after_minutes": _("…after (minutes unread)"),
            "email": _("Email me"),
            "email_after_minutes": _("…after (minutes unread, while I'm offline)"),
            "language": _("Language (of these pages and of reminders)"),
            "timezone": _("My time zone"),
            "quiet_from": _("Quiet hours from"),
            "quiet_to": _("until"),
        }
        widgets = {
            "quiet_from": forms.TimeInput(attrs={"type": "time"}),
            "quiet_to": forms.TimeInput(attrs={"type": "time"}),
            "timezone": forms.TextInput(attrs={"list": "timezones"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        defaults = {
            "push_after_minutes": settings.NOTIFY_AGENT_PUSH_AFTER_SECONDS // 60,
            "email_after_minutes": settings.NOTIFY_AGENT_EMAIL_AFTER_SECONDS // 60,
        }
        for name, minutes in defaults.items():
            self.fields[name].widget.attrs["placeholder"] = gettext("%(minutes)s (the default)") % {
                "minutes": minutes
            }

    def clean_timezone(self) -> str:
        value: str = self.cleaned_data["timezone"].strip()
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(_("Not a time zone name, e.g. Asia/Shanghai.")) from None
        return value

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if (data.get("quiet_from") is None) != (data.get("quiet_to") is None):
            raise forms.ValidationError(_("Quiet hours need both a start and an end."))
        return data


class ManagerPreferencesForm(forms.ModelForm):
    class Meta:
        model = ManagerPreferences
        fields = ["push", "email", "language"]
        labels = {
            "push": _("Push escalations to my browsers"),
            "email": _("Email me escalations"),
            "language": _("Language (of these pages and of escalations)"),
        }


def timezone_names() -> list[str]:
    return sorted(available_timezones())


# ---- a site's app and mini-program settings (back office) ---------------------------------------

TEMPLATE_VALUES = ("site", "reply", "agent", "time", "count")


def _service_account(text: str) -> dict[str, Any]:
    try:
        info = json.loads(text)
    except ValueError:
        raise forms.ValidationError("Not JSON: paste the whole key file.") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise forms.ValidationError('Not a service account key ("type": "service_account").')
    missing = [
        k for k in ("project_id", "private_key", "client_email", "token_uri") if not info.get(k)
    ]
    if missing:
        raise forms.ValidationError(f"The key lacks {', '.join(missing)}.")
    try:
        service_account.Credentials.from_service_account_info(info)
    except (ValueError, KeyError) as exc:
        raise forms.ValidationError(f"The private key does not load: {exc}") from None
    return info


def _apns_key(text: str) -> str:
    try:
        key = serialization.load_pem_private_key(text.strip().encode(), password=None)
    except (ValueError, TypeError):
        raise forms.ValidationError(
            "Not a .p8 key: paste the file's text, BEGIN and END lines included."
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise forms.ValidationError("APNs keys are P-256 (ES256) keys; this one is not.")
    return text.strip() + "\n"


class ChannelSettingsForm(forms.ModelForm):
    """Secrets are write-only: the page says whether one is saved, never what it is. Left
    empty, the saved one stays; "remove" deletes it."""

    fcm_key = forms.CharField(
        label="FCM service account key",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text="Firebase console → Project settings → Service accounts → Generate new "
        "private key: paste the JSON file. Empty: keep the saved one.",
    )
    remove_fcm_key = forms.BooleanField(label="Remove the FCM key", required=False)
    apns_key_text = forms.CharField(
        label="APNs key (.p8)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text="Apple Developer → Keys → a key with Apple Push Notifications service: "
        "paste the .p8 file. Empty: keep the saved one.",
    )
    remove_apns_key = forms.BooleanField(label="Remove the APNs key", required=False)
    wechat_secret_text = forms.CharField(
        label="Mini-program AppSecret",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="WeChat MP admin → Development → Development settings. Empty: keep the "
        "saved one.",
    )
    remove_wechat_secret = forms.BooleanField(label="Remove the AppSecret", required=False)

    class Meta:
        model = ChannelSettings
        fields = [
            "site",
            "apns_key_id",
            "apns_team_id",
            "apns_bundle_id",
            "apns_sandbox",
            "wechat_appid",
            "wechat_templates",
            "wechat_page",
            "wechat_state",
            "wechat_customer_service",
        ]

    def clean_wechat_templates(self) -> list[dict[str, Any]]:
        templates = self.cleaned_data.get("wechat_templates") or []
        if not isinstance(templates, list) or len(templates) > 3:
            raise forms.ValidationError("A list of at most three templates.")
        for t in templates:
            fields = t.get("fields") if isinstance(t, dict) else None
            if not isinstance(t, dict) or not isinstance(t.get("id"), str) or not t["id"]:
                raise forms.ValidationError('Each template is {"id": "…", "fields": {…}}.')
            if not isinstance(fields, dict) or not fields:
                raise forms.ValidationError(f"{t['id']}: say which value fills each keyword.")
            bad = [v for v in fields.values() if v not in TEMPLATE_VALUES]
            if bad:
                raise forms.ValidationError(
                    f"{t['id']}: {bad[0]!r} is not one of {', '.join(TEMPLATE_VALUES)}."
                )
        return templates

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        instance = self.instance
        try:
            if data.get("remove_fcm_key"):
                instance.fcm_service_account = {}
            elif data.get("fcm_key"):
                instance.fcm_service_account = _service_account(data["fcm_key"])
        except forms.ValidationError as exc:
            self.add_error("fcm_key", exc)
        try:
            if data.get("remove_apns_key"):
                instance.apns_key = ""
            elif data.get("apns_key_text"):
                instance.apns_key = _apns_key(data["apns_key_text"])
        except forms.ValidationError as exc:
            self.add_error("apns_key_text", exc)
        if data.get("remove_wechat_secret"):
            instance.wechat_secret = ""
        elif data.get("wechat_secret_text"):
            instance.wechat_secret = data["wechat_secret_text"].strip()
        return data
