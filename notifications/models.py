"""Notifications: every attempt to remind or alert someone, and people's preferences.

One row per (recipient, reason, conversation, level, channel): however often a scan or task
runs, a reminder is created once. ``level`` says which occurrence: for reminders the seq of
the first unread message (new unread messages later mean a new reminder), for escalation
the ladder step.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from helpdesk.fields import EncryptedJSONField, EncryptedTextField
from helpdesk.models import Agent, Conversation, Site, Visitor


class Notification(models.Model):
    class Reason(models.TextChoices):
        AGENT_UNREAD = "agent_unread", "Agent: unread visitor messages"
        ESCALATION = "escalation", "Manager: conversation waiting"
        DIGEST = "digest", "Manager: waited outside business hours"
        VISITOR_REPLY = "visitor_reply", "Visitor: unseen agent reply"
        MENTION = "mention", "Agent: mentioned in an internal note"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        PUSH = "push", "Web Push"
        APP = "app", "App push"
        WECHAT = "wechat", "WeChat subscribe message"
        WECHAT_CS = "wechat_cs", "WeChat customer-service message"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    recipient = models.CharField(max_length=64, help_text="agent:<id>, user:<id> or visitor:<id>")
    address = models.CharField(max_length=254, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="notifications"
    )
    level = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when a send starts (committed before the provider is called).
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # After a transient failure: not before this (exponential backoff, capped at an hour).
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "reason", "conversation", "level", "channel"],
                name="notification_once",
            )
        ]
        indexes = [
            models.Index(
                fields=["recipient", "created_at"],
                name="notification_pending",
                condition=models.Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.reason} → {self.recipient} ({self.status})"


class AgentPreferences(models.Model):
    """How an agent wants to be reminded. Absent: the defaults from settings."""

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="preferences")
    email = models.BooleanField(default=True, help_text="Email me about unread messages.")
    email_after_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    push = models.BooleanField(
        default=True, help_text="Push to the browsers where I turned notifications on."
    )
    push_after_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    language = models.CharField(
        max_length=10, choices=[("en", "English"), ("zh-hans", "简体中文")], default="en"
    )
    timezone = models.CharField(max_length=64, default="UTC")
    quiet_from = models.TimeField(null=True, blank=True, help_text="No reminders from…")
    quiet_to = models.TimeField(null=True, blank=True, help_text="…until (in my time zone).")

    class Meta:
        verbose_name_plural = "agent preferences"

    def __str__(self) -> str:
        return f"Preferences of {self.agent}"


class ManagerPreferences(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    email = models.BooleanField(default=True, help_text="Email me escalations.")
    push = models.BooleanField(default=True, help_text="Push escalations to my browsers.")
    language = models.CharField(
        max_length=10, choices=[("en", "English"), ("zh-hans", "简体中文")], default="en"
    )

    class Meta:
        verbose_name_plural = "manager preferences"

    def __str__(self) -> str:
        return f"Preferences of {self.user}"


class PushSubscription(models.Model):
    """One browser that agreed to Web Push: the push service's endpoint and the keys that
    encrypt for it. Belongs to a staff user (inbox, back office) or to a visitor (widget).
    The endpoint identifies the browser, so subscribing again replaces the owner and keys."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="push_subscriptions",
    )
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, null=True, blank=True, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=2000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=True, visitor__isnull=False)
                | models.Q(user__isnull=False, visitor__isnull=True),
                name="push_subscription_one_owner",
            )
        ]

    def __str__(self) -> str:
        owner = f"user {self.user_id}" if self.user_id else f"visitor {self.visitor_id}"
        return f"Push to {owner} via {self.endpoint[:40]}…"


class ResumeGrant(models.Model):
    """A one-time way back into a visitor's conversation on another device: a 6-digit code
    emailed on request, or the link in a follow-up email. Only a hash is kept."""

    class Kind(models.TextChoices):
        CODE = "code", "Code"
        LINK = "link", "Link"

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="resume_grants")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["visitor", "-created_at"], name="resume_grant_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.visitor_id}"


class Device(models.Model):
    """A phone running the site's app that registered for push: its FCM registration token
    (Android, or iOS through Firebase) or its APNs device token. The token names the app on
    that phone, so registering it again moves it to whoever registered last."""

    class Platform(models.TextChoices):
        FCM = "fcm", "Firebase Cloud Messaging"
        APNS = "apns", "Apple Push Notification service"

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="devices")
    platform = models.CharField(max_length=4, choices=Platform.choices)
    token = models.CharField(max_length=512)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "token"], name="device_token_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} device of {self.visitor_id}"


class WechatIdentity(models.Model):
    """Who a mini-program visitor is to WeChat: their openid under the site's mini-program,
    learnt by exchanging a ``wx.login`` code with WeChat (never taken from the client)."""

    visitor = models.OneToOneField(
        Visitor, on_delete=models.CASCADE, primary_key=True, related_name="wechat"
    )
    appid = models.CharField(max_length=64)
    openid = EncryptedTextField()
    linked_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "WeChat identities"

    def __str__(self) -> str:
        return f"WeChat identity of {self.visitor_id}"


class SubscribeConsent(models.Model):
    """One "accept" of ``wx.requestSubscribeMessage`` for one template: WeChat lets us send
    that visitor one subscribe message per consent. Spent (``used_at``) before the message
    is sent, by the send that took it (``used_by``, the notification's message ID)."""

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="wechat_consents")
    template_id = models.CharField(max_length=128)
    granted_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["visitor", "granted_at"],
                name="consent_unused",
                condition=models.Q(used_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        state = "used" if self.used_at else "unused"
        return f"Consent to {self.template_id} ({state})"


class ChannelSettings(models.Model):
    """A site's app and mini-program credentials, for pushes to its app (FCM, APNs) and
    messages to its mini-program's users (WeChat). Secrets are encrypted at rest; only the
    site's administrators see this page (docs/security.md)."""

    class MiniProgramState(models.TextChoices):
        FORMAL = "formal", "Released (formal)"
        TRIAL = "trial", "Trial (trial)"
        DEVELOPER = "developer", "Developer (developer)"

    site = models.OneToOneField(
        Site, on_delete=models.CASCADE, primary_key=True, related_name="channel_settings"
    )
    fcm_service_account = EncryptedJSONField(
        default=dict,
        blank=True,
        help_text="The Firebase project's service account key (JSON), for FCM HTTP v1.",
    )
    apns_key = EncryptedTextField(
        blank=True, default="", help_text="The APNs authentication key (.p8, PEM text)."
    )
    apns_key_id = models.CharField("APNs key ID", max_length=20, blank=True)
    apns_team_id = models.CharField("APNs team ID", max_length=20, blank=True)
    apns_bundle_id = models.CharField(
        "App bundle ID", max_length=255, blank=True, help_text="The APNs topic, e.g. com.acme.shop."
    )
    apns_sandbox = models.BooleanField(
        "APNs sandbox",
        default=False,
        help_text="Development builds of the app: send through Apple's sandbox.",
    )
    wechat_appid = models.CharField("Mini-program AppID", max_length=64, blank=True)
    wechat_secret = EncryptedTextField("Mini-program AppSecret", blank=True, default="")
    wechat_templates = models.JSONField(
        "Subscribe-message templates",
        default=list,
        blank=True,
        help_text=(
            'Up to three, each {"id": "the template ID", "fields": {"thing1": "site", "thing2": '
            '"reply", "time3": "time"}}: which of our values fills each of the template\'s '
            "keywords (site, reply, agent, time, count)."
        ),
    )
    wechat_page = models.CharField(
        "Mini-program page",
        max_length=255,
        default="pages/chat/chat",
        help_text="The page a subscribe message opens.",
    )
    wechat_state = models.CharField(
        "Mini-program version",
        max_length=10,
        choices=MiniProgramState.choices,
        default=MiniProgramState.FORMAL,
        help_text="Which version of the mini-program a subscribe message opens.",
    )
    wechat_customer_service = models.BooleanField(
        "Customer-service messages",
        default=False,
        help_text=(
            "With no subscribe consent left, send a customer-service message (客服消息) to a "
            "visitor who wrote in the last 48 hours. WeChat accepts it only within 48 hours "
            "of the user's last message to the mini-program's customer service (a button "
            "with open-type=contact); turn it on only if your users write there."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "app and mini-program settings"
        verbose_name_plural = "app and mini-program settings"

    def __str__(self) -> str:
        return f"Apps and mini-program of {self.site}"

    @property
    def fcm_key(self) -> dict[str, Any]:
        """The FCM service account key (decrypted), or {} when none is saved."""
        key = self.fcm_service_account
        return dict(key) if isinstance(key, dict) else {}

    @property
    def fcm_ready(self) -> bool:
        return bool(self.fcm_key)

    @property
    def apns_ready(self) -> bool:
        return bool(
            self.apns_key and self.apns_key_id and self.apns_team_id and self.apns_bundle_id
        )

    @property
    def wechat_ready(self) -> bool:
        return bool(self.wechat_appid and self.wechat_secret)

    def template_ids(self) -> list[str]:
        return [str(t["id"]) for t in self.wechat_templates if isinstance(t, dict) and t.get("id")]
