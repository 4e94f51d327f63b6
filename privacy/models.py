"""The audit log: what managers (and the retention task) did, read-only in the back office.

Entries name their target by label and ID and carry no personal data (no visitor's name,
email or words), so an erasure leaves them standing. Sites and groups are kept as plain IDs,
not foreign keys: an entry outlives what it talks about.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        TRANSFER = "transfer", "Transferred a conversation"
        TAKEOVER = "takeover", "Took over a conversation"
        EXPORT = "export", "Exported a visitor's data"
        ERASE = "erase", "Erased a visitor's data"
        ADD = "add", "Added a setting"
        CHANGE = "change", "Changed a setting"
        DELETE = "delete", "Deleted a setting"
        SECRET_REVEAL = "secret_reveal", "Revealed an identity secret"
        SECRET_ROTATE = "secret_rotate", "Rotated an identity secret"
        SHIFTS = "shifts", "Changed a weekly rota"
        PRUNE = "prune", "Deleted what was past retention"

    at = models.DateTimeField("when", auto_now_add=True, db_index=True)
    # Who: None for the system (the retention task). The name stays if the account goes.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField("what", max_length=20, choices=Action.choices)
    # What: "<app.model>:<pk>" and a readable name (never a visitor's).
    target = models.CharField(max_length=120, blank=True)
    target_repr = models.CharField("about", max_length=200, blank=True)
    # Whose: the site and group it belongs to, so managers see their own entries.
    site_id = models.UUIDField(null=True, blank=True, db_index=True)
    group_id = models.IntegerField(null=True, blank=True, db_index=True)
    # Which fields changed, counts, a reason; never a value of a secret or personal field.
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log entries"

    def __str__(self) -> str:
        who = self.actor_name or "system"
        return f"{self.at:%Y-%m-%d %H:%M} {who}: {self.get_action_display()}"
