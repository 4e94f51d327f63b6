"""The preferences people edit for themselves on /notifications/."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from notifications.models import AgentPreferences, ManagerPreferences


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
