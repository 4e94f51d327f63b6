"""The conversations domain: sites, agents and their groups, visitors, conversations, messages.

Writes go through ``helpdesk.services``; reads through ``helpdesk.selectors``.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models


def new_widget_key() -> str:
    return "wk_" + secrets.token_urlsafe(18)


class AgentGroup(models.Model):
    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Agent(models.Model):
    """A person who answers conversations; a profile on a Django user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )
    display_name = models.CharField(max_length=100)
    groups = models.ManyToManyField(AgentGroup, related_name="agents", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class Site(models.Model):
    """A customer website (or app) that embeds the widget with its public widget key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    widget_key = models.CharField(max_length=40, unique=True, default=new_widget_key)
    greeting = models.CharField(max_length=200, default="Hi! How can we help you today?")
    color = models.CharField(max_length=7, default="#2563eb")
    default_group = models.ForeignKey(
        AgentGroup,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="default_for_sites",
        help_text="Agents of this group receive the site's new conversations.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Channel(models.TextChoices):
    WEB = "web", "Web"
    APP = "app", "App"
    MINI_PROGRAM = "mini_program", "Mini-program"


class Visitor(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="visitors")
    name = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or f"Visitor {self.id.hex[:4]}"


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="conversations")
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="conversations")
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    assigned_agent = models.ForeignKey(
        Agent, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    # The last allocated message seq: the per-conversation cursor clients resume from.
    last_seq = models.PositiveIntegerField(default=0)
    # The assigned agent's read cursor (the highest seq they have seen).
    agent_read_seq = models.PositiveIntegerField(default=0)
    # Since when the visitor has been waiting for an answer; null when not waiting.
    waiting_since = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["assigned_agent", "status"], name="conv_agent_status"),
            models.Index(fields=["visitor", "-created_at"], name="conv_visitor_recent"),
            models.Index(
                fields=["site", "created_at"],
                name="conv_waiting_queue",
                condition=models.Q(status="open", assigned_agent__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.id.hex[:8]}"


class Message(models.Model):
    class Sender(models.TextChoices):
        VISITOR = "visitor", "Visitor"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=10, choices=Sender.choices)
    agent = models.ForeignKey(
        Agent, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    body = models.TextField()
    client_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            # Resends are idempotent: one message per sender side and client ID.
            models.UniqueConstraint(
                fields=["conversation", "sender", "client_id"],
                name="message_client_id_unique",
                condition=models.Q(client_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq}"
