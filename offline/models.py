"""The offline store: messages whose recipient was not connected when they were stored.

Kept apart from live delivery. A row waits in ``pending`` until its recipient comes online
(agent: flush on login; visitor: catch-up on reconnect) and then moves to ``delivered``.
"""

from __future__ import annotations

from django.db import models

from helpdesk.models import Conversation, Message


class OfflineMessage(models.Model):
    class Audience(models.TextChoices):
        # Whoever the conversation is (or will be) assigned to.
        AGENT = "agent", "Agent"
        VISITOR = "visitor", "Visitor"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"

    # No index of its own: the unique (message, audience) constraint below serves lookups.
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="offline", db_index=False
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="offline_messages"
    )
    audience = models.CharField(max_length=10, choices=Audience.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(help_text="When the message was stored.")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["message", "audience"], name="offline_once"),
        ]
        indexes = [
            # Walked in delivery order by the flush, stopping at a batch.
            models.Index(
                fields=["audience", "created_at", "id"],
                name="offline_pending",
                condition=models.Q(state="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.audience} {self.state} {self.message_id}"
