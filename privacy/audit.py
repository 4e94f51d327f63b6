"""Writing the audit log (``privacy.models.AuditEntry``). The services and back-office doors
that do what is recorded call these; nothing here reads a request. A bottom layer: it imports
models only, so services of any app may record.

Never pass personal data: a visitor is named by ID only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from privacy.models import AuditEntry

if TYPE_CHECKING:
    from helpdesk.access import Actor
    from helpdesk.models import Conversation

Action = AuditEntry.Action

# Models whose str() may be a person's name or words: named by ID in the log.
PERSONAL = {"helpdesk.visitor", "helpdesk.message", "helpdesk.rating"}


def record(
    *,
    action: str,
    actor_id: int | None = None,
    actor_name: str = "",
    target: str = "",
    target_repr: str = "",
    site_id: Any = None,
    group_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        action=action,
        actor_id=actor_id,
        actor_name=actor_name[:150],
        target=target[:120],
        target_repr=target_repr[:200],
        site_id=site_id,
        group_id=group_id,
        detail=detail or {},
    )


def target_of(obj: models.Model) -> tuple[str, str]:
    """``("app.model:pk", readable name)`` for a row; a personal row is named by its ID."""
    label = obj._meta.label_lower
    name = f"{obj._meta.verbose_name} {obj.pk}" if label in PERSONAL else str(obj)
    return f"{label}:{obj.pk}", name


def owner_of(obj: models.Model) -> tuple[Any, int | None]:
    """The site and group a row belongs to (who may read its entries)."""
    label = obj._meta.label_lower
    if label == "helpdesk.site":
        return obj.pk, None
    if label == "helpdesk.agentgroup":
        return None, obj.pk
    if label == "helpdesk.agent":
        first = obj.groups.order_by("pk").values_list("pk", flat=True).first()  # type: ignore[attr-defined]
        return None, first
    return getattr(obj, "site_id", None), getattr(obj, "group_id", None)


def setting_changed(
    *, user: Any, action: str, obj: models.Model, fields: list[str] | None = None
) -> AuditEntry:
    """A row added, changed or deleted in the back office (``fields``: the names changed)."""
    target, name = target_of(obj)
    site_id, group_id = owner_of(obj)
    return record(
        action=action,
        actor_id=user.pk,
        actor_name=user.get_username(),
        target=target,
        target_repr=name,
        site_id=site_id,
        group_id=group_id,
        detail={"fields": fields} if fields else {},
    )


def conversation_transferred(
    *,
    actor: Actor | None,
    by_name: str,
    conversation: Conversation,
    previous_agent_id: int | None,
    reason: str,
) -> None:
    """A person moved a conversation (the system's own moves are not recorded). Moving it to
    oneself is a takeover."""
    if actor is None:
        return
    to_self = actor.agent_id is not None and conversation.assigned_agent_id == actor.agent_id
    record(
        action=Action.TAKEOVER if to_self else Action.TRANSFER,
        actor_id=actor.user_id,
        actor_name=by_name,
        target=f"helpdesk.conversation:{conversation.pk}",
        target_repr=str(conversation),
        site_id=conversation.site_id,
        group_id=conversation.group_id,
        detail={
            "from_agent": previous_agent_id,
            "to_agent": conversation.assigned_agent_id,
            "to_group": conversation.group_id,
            "reason": reason[:300],
        },
    )


def forget_reasons(conversation_ids: list[Any]) -> None:
    """An erasure: the transfer reasons agents typed about these conversations go too (the
    entries stay, with who moved what when)."""
    targets = [f"helpdesk.conversation:{pk}" for pk in conversation_ids]
    for entry in AuditEntry.objects.filter(target__in=targets, detail__has_key="reason"):
        entry.detail = {k: v for k, v in entry.detail.items() if k != "reason"}
        entry.save(update_fields=["detail"])
