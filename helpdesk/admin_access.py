"""The access rule in the back office: every list, form choice and action of Django admin is
limited to what the signed-in person may see (``helpdesk.access``); superusers see all.

Models fall in two kinds, and every registered model is one of them (a test holds this):

- **scoped** (``ScopedAdmin``): conversations, visitors, sites, groups, agents, routing
  rules, notifications, online sessions, preferences and push subscriptions;
- **global configuration** (``GLOBAL_CONFIGURATION``): tags, skills, business-hours
  schedules, and Django's users and permission groups. They hold no visitor's data; who may
  change them is decided by Django's model permissions alone (docs/security.md).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest

from helpdesk import access
from helpdesk.access import Actor
from privacy import audit


def actor_of(request: HttpRequest) -> Actor:
    """The signed-in person's standing, read once per request."""
    actor = getattr(request, "_helpdesk_actor", None)
    if actor is None:
        actor = access.actor_for(request.user) or Actor(user_id=0)  # nobody: sees nothing
        request._helpdesk_actor = actor  # type: ignore[attr-defined]
    return actor


class AuditedAdmin:
    """Every add, change and delete in the back office goes to the audit log as well as to
    Django's own history (``privacy.audit``): who, what, which fields; never the values. Every
    registered ModelAdmin is one (a test holds this)."""

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_addition(request, obj, message)  # type: ignore[misc]
        audit.setting_changed(user=request.user, action=audit.Action.ADD, obj=obj)
        return entry

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_change(request, obj, message)  # type: ignore[misc]
        audit.setting_changed(
            user=request.user, action=audit.Action.CHANGE, obj=obj, fields=_changed(message)
        )
        return entry

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        entries = super().log_deletions(request, queryset)  # type: ignore[misc]
        for obj in queryset:
            audit.setting_changed(user=request.user, action=audit.Action.DELETE, obj=obj)
        return entries


def _changed(message: Any) -> list[str]:
    """The field names of Django admin's change message (a list of {"changed": {...}})."""
    fields: list[str] = []
    for part in message if isinstance(message, list) else []:
        for kind in ("changed", "added", "deleted"):
            item = part.get(kind) if isinstance(part, dict) else None
            if item:
                names = item.get("fields") or [item.get("name", kind)]
                fields += [str(n) for n in names if str(n) not in fields]
    return fields


class ScopedAdmin(AuditedAdmin):
    """A ModelAdmin whose rows and choices follow the access rule.

    ``scope(actor)``: which rows a non-superuser sees. ``choices``: for a foreign key or
    many-to-many field, the queryset of what this person may pick (by ``access`` function),
    so nobody can point a row of theirs at something out of their reach."""

    choices: dict[str, Any] = {}

    def scope(self, actor: Actor) -> Q:
        raise NotImplementedError

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)  # type: ignore[misc]
        actor = actor_of(request)
        if actor.superuser:
            return qs
        return qs.filter(self.scope(actor)).distinct()

    def _limit(self, db_field: Any, request: HttpRequest, kwargs: dict[str, Any]) -> None:
        actor = actor_of(request)
        reach = self.choices.get(db_field.name)
        if reach is not None and not actor.superuser:
            kwargs["queryset"] = reach(actor)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._limit(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._limit(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]


# Registered models that hold no visitor's data and are shared by every team.
GLOBAL_CONFIGURATION = {
    "helpdesk.tag",
    "routing.skill",
    "routing.schedule",
    "auth.user",
    "auth.group",
}
