"""Notifications: every attempt to remind or alert someone, and people's preferences.

One row per (recipient, reason, conversation, level, channel): however often a scan or task
runs, a reminder is created once. ``level`` says which occurrence: for reminders the seq of
the first unread message (new unread messages later mean a new reminder), for escalation
the ladder step.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from helpdesk.models import Agent, Conversation


class Notification(models.Model):
    class Reason(models.TextChoices):
        AGENT_UNREAD = "agent_unread", "Agent: unread visitor messages"
        ESCALATION = "escalation", "Manager: conversation waiting"
        VISITOR_REPLY = "visitor_reply", "Visitor: unseen agent reply"

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
    language = models.CharField(
        max_length=10, choices=[("en", "English"), ("zh-hans", "简体中文")], default="en"
    )

    class Meta:
        verbose_name_plural = "manager preferences"

    def __str__(self) -> str:
        return f"Preferences of {self.user}"
