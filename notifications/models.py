"""Notifications: every attempt to remind or alert someone, and people's preferences.

One row per (recipient, reason, conversation, level, channel): however often a scan or task
runs, a reminder is created once. ``level`` says which occurrence: for reminders the seq of
the first unread message (new unread messages later mean a new reminder), for escalation
the ladder step.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from helpdesk.models import Agent, Conversation, Visitor


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
