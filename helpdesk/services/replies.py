"""Saved replies: an agent's own, and their teams' (which the team's managers keep)."""

from __future__ import annotations

from django.db import transaction

from helpdesk import access
from helpdesk.models import AgentGroup, SavedReply


class NotAllowed(Exception):
    """A team reply of a team one does not manage, or someone else's own."""


def may_edit(actor: access.Actor, reply: SavedReply) -> bool:
    if reply.owner_id is not None:
        return reply.owner_id == actor.user_id
    return actor.superuser or reply.group_id in actor.manages


@transaction.atomic
def saved_reply_save(
    *,
    actor: access.Actor,
    title: str,
    body: str,
    language: str = "",
    shortcut: str = "",
    group_id: int | None = None,
    reply_id: int | None = None,
) -> SavedReply:
    """Create or change a saved reply: personal (no group), or a team's (``group_id``,
    for its managers). Raises ``NotAllowed``."""
    if reply_id is not None:
        reply = SavedReply.objects.select_for_update().filter(pk=reply_id).first()
        if reply is None or not may_edit(actor, reply):
            raise NotAllowed("No such saved reply of yours.")
    else:
        reply = SavedReply()
    if group_id is not None:
        if not (actor.superuser or group_id in actor.manages):
            raise NotAllowed("Only a manager of the team keeps its saved replies.")
        if not AgentGroup.objects.filter(pk=group_id).exists():
            raise NotAllowed("No such team.")
        reply.group_id, reply.owner_id = group_id, None
    else:
        reply.owner_id, reply.group_id = actor.user_id, None
    reply.title, reply.body, reply.language, reply.shortcut = title, body, language, shortcut
    reply.save()
    return reply


def saved_reply_delete(*, actor: access.Actor, reply_id: int) -> bool:
    reply = SavedReply.objects.filter(pk=reply_id).first()
    if reply is None or not may_edit(actor, reply):
        return False
    reply.delete()
    return True
