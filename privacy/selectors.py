"""Privacy reads: who may export or erase a visitor, and everything we hold about one, as
JSON (the data subject's copy under GDPR art. 15/20 and PIPL art. 45)."""

from __future__ import annotations

from typing import Any

from helpdesk import access
from helpdesk.access import Action, Actor
from helpdesk.models import Conversation, Message, Rating, Visitor
from helpdesk.payloads import iso
from notifications.models import Notification, PushSubscription, ResumeGrant

FORMAT = "helpdesk.visitor-export/1"


def may_handle_visitor(actor: Actor, visitor: Visitor) -> bool:
    """Export or erase (``Action.EXPORT``): a superuser, an administrator of the visitor's
    site, or someone who oversees every one of the visitor's conversations (a manager of
    their groups). A manager of one of two groups the visitor wrote to may not: the other
    group's conversations are not theirs to hand out or delete."""
    if actor.superuser or visitor.site_id in actor.administers:
        return True
    conversations = list(
        Conversation.objects.filter(visitor=visitor).only(
            "pk", "site_id", "group_id", "assigned_agent_id"
        )
    )
    return bool(conversations) and all(access.may(actor, Action.EXPORT, c) for c in conversations)


def visitor_export(visitor: Visitor) -> dict[str, Any]:
    """Everything held about ``visitor``, decrypted, in a fixed number of queries."""
    conversations = list(
        Conversation.objects.filter(visitor=visitor)
        .select_related("group", "assigned_agent")
        .prefetch_related("tags")
        .order_by("created_at")
    )
    ids = [c.pk for c in conversations]
    messages: dict[Any, list[dict[str, Any]]] = {pk: [] for pk in ids}
    for m in (
        Message.objects.filter(conversation_id__in=ids)
        .select_related("agent")
        .order_by("conversation_id", "seq")
    ):
        messages[m.conversation_id].append(_message(m))
    ratings = {r.conversation_id: r for r in Rating.objects.filter(conversation_id__in=ids)}
    return {
        "format": FORMAT,
        "visitor": _visitor(visitor),
        "conversations": [
            _conversation(c, messages[c.pk], ratings.get(c.pk)) for c in conversations
        ],
        "notifications": [
            {
                "reason": n.reason,
                "channel": n.channel,
                "address": n.address,
                "status": n.status,
                "created_at": iso(n.created_at),
                "sent_at": iso(n.sent_at),
            }
            for n in Notification.objects.filter(conversation_id__in=ids).order_by("created_at")
        ],
        "push_subscriptions": [
            {"endpoint": s.endpoint, "user_agent": s.user_agent, "created_at": iso(s.created_at)}
            for s in PushSubscription.objects.filter(visitor=visitor).order_by("created_at")
        ],
        "resume_grants": [
            {"kind": g.kind, "created_at": iso(g.created_at), "used_at": iso(g.used_at)}
            for g in ResumeGrant.objects.filter(visitor=visitor).order_by("created_at")
        ],
    }


def _visitor(v: Visitor) -> dict[str, Any]:
    return {
        "id": str(v.pk),
        "site": v.site.name,
        "channel": v.channel,
        "name": v.name,
        "email": v.email,
        "email_verified_at": iso(v.email_verified_at),
        "external_id": v.external_id,
        "language": v.language,
        "timezone": v.timezone,
        "page_url": v.page_url,
        "attributes": v.attributes,
        "created_at": iso(v.created_at),
        "last_seen_at": iso(v.last_seen_at),
    }


def _conversation(
    c: Conversation, messages: list[dict[str, Any]], rating: Rating | None
) -> dict[str, Any]:
    return {
        "id": str(c.pk),
        "channel": c.channel,
        "status": c.status,
        "team": c.group.name if c.group else None,
        "agent": c.assigned_agent.display_name if c.assigned_agent else None,
        "tags": sorted(t.name for t in c.tags.all()),
        "created_at": iso(c.created_at),
        "resolved_at": iso(c.resolved_at),
        "rating": (
            {"scale": rating.scale, "score": rating.score, "comment": rating.comment}
            if rating
            else None
        ),
        "messages": messages,
    }


def _message(m: Message) -> dict[str, Any]:
    return {
        "seq": m.seq,
        "from": m.sender,
        "agent": m.agent.display_name if m.agent is not None else None,
        "text": m.body,
        "at": iso(m.created_at),
        # Messages carry no attachments yet; once they do, each one's name, type and data
        # (base64) go here, read through the same hook that deletes their files
        # (privacy.services.attachment_files_delete).
        "attachments": [],
    }
