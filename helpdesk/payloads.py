"""The JSON shapes of docs/protocol.md, built from model rows (no queries here)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from helpdesk import crypto
from helpdesk.models import Conversation, Message, Note, Priority, Visitor

Audience = Literal["visitor", "agent"]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


MESSAGE_FIELDS = (
    "id",
    "conversation_id",
    "seq",
    "sender",
    "agent__display_name",
    "body",
    "created_at",
    "client_id",
    "meta",
)
# What a visitor may see of a system line's facts (staff details such as who moved it and why
# stay with the agents).
VISITOR_META = frozenset({"kind", "position", "next_open_at", "to_agent", "to_group", "group_name"})


def message(
    m: Message, *, audience: Audience, attachments: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """``m.agent`` must be loaded (select_related) for agent messages. ``attachments``: the
    message's files as ``helpdesk.files.payload`` makes them (lists: ``files.with_attachments``)."""
    shown = message_row(
        {
            "id": m.id,
            "conversation_id": m.conversation_id,
            "seq": m.seq,
            "sender": m.sender,
            "agent__display_name": m.agent.display_name if m.agent is not None else None,
            "body": m.body,
            "created_at": m.created_at,
            "client_id": m.client_id,
            "meta": m.meta,
        },
        audience=audience,
    )
    if attachments:
        shown["attachments"] = attachments
    return shown


def message_row(row: dict[str, Any], *, audience: Audience) -> dict[str, Any]:
    """The same shape from a ``.values(*MESSAGE_FIELDS)`` row (no model instances: bulk paths)."""
    own_side = row["sender"] == audience
    return {
        "id": str(row["id"]),
        "conversation_id": str(row["conversation_id"]),
        "seq": row["seq"],
        "sender": row["sender"],
        "agent_name": row["agent__display_name"],
        "body": body_of(row["body"], row["id"]),
        "created_at": iso(row["created_at"]),
        "client_id": str(row["client_id"]) if own_side and row["client_id"] else None,
        "meta": _meta(row["meta"] or {}, audience),
        "attachments": [],
    }


def body_of(value: str, message_id: Any) -> str:
    """A body from a bulk read (``values()``, raw SQL, a subquery) is still sealed: open it
    with its message's identity. From an instance it is already plain."""
    if isinstance(value, crypto.Sealed):
        return str(Message._meta.get_field("body").open(value, message_id))
    return value


def _meta(meta: dict[str, Any], audience: Audience) -> dict[str, Any]:
    if audience == "visitor":
        return {k: v for k, v in meta.items() if k in VISITOR_META}
    return meta


def conversation(c: Conversation, last: Message | None = None) -> dict[str, Any]:
    """``c`` comes from ``selectors.with_summary`` (annotated, visitor loaded), or carries
    ``state`` and ``unread`` with its newest message given as ``last``."""
    row: Any = c  # with the selectors' annotations, which the model's type does not name
    shown = None
    if last is not None:
        shown = {"sender": last.sender, "body": last.body[:200], "created_at": iso(last.created_at)}
    elif getattr(c, "last_body", None) is not None:
        body = body_of(crypto.Sealed(row.last_body), row.last_id)
        shown = {"sender": row.last_sender, "body": body[:200], "created_at": iso(row.last_at)}
    return _summary(
        {f: getattr(c, f) for f in SUMMARY_FIELDS},
        visitor_name=c.visitor.display_name,
        tags=_tags(c),
        last_message=shown,
        state=row.state,
        unread=row.unread,
    )


# A conversation's own columns in its summary; ``selectors.conversation_summaries`` reads
# them with the visitor's sealed name and email and the summary's annotations.
SUMMARY_FIELDS = (
    "id",
    "visitor_id",
    "channel",
    "status",
    "assigned_agent_id",
    "group_id",
    "priority",
    "last_seq",
    "agent_read_seq",
    "last_visitor_seq",
    "last_agent_seq",
    "visitor_seen_seq",
    "visitor_delivered_seq",
    "waiting_since",
    "snoozed_until",
    "created_at",
)


def conversation_row(row: dict[str, Any]) -> dict[str, Any]:
    """The same shape as ``conversation`` from a ``selectors.conversation_summaries`` row
    (no model instances: the flush builds a thousand of these at a time)."""
    shown = None
    if row["last_body"] is not None:
        body = body_of(crypto.Sealed(row["last_body"]), row["last_id"])
        shown = {
            "sender": row["last_sender"],
            "body": body[:200],
            "created_at": iso(row["last_at"]),
        }
    visitor_id = row["visitor_id"]
    # Opened only as far as needed, as ``Visitor.display_name`` does on an instance.
    name = _open(Visitor, "name", row["visitor__name"], visitor_id) or _open(
        Visitor, "email", row["visitor__email"], visitor_id
    )
    return _summary(
        row,
        visitor_name=name or Visitor.anonymous_name(visitor_id),
        tags=json.loads(row["tags_json"]),
        last_message=shown,
        state=row["state"],
        unread=row["unread"],
    )


def _open(model: Any, field: str, value: str | None, pk: Any) -> str:
    if not value:
        return ""
    return str(model._meta.get_field(field).open(value, pk))


_PRIORITIES = {value: str(label).lower() for value, label in Priority.choices}


def _summary(
    row: dict[str, Any],
    *,
    visitor_name: str,
    tags: list[dict[str, Any]],
    last_message: dict[str, Any] | None,
    state: str,
    unread: int,
) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "visitor": {"id": str(row["visitor_id"]), "name": visitor_name},
        "channel": row["channel"],
        "status": row["status"],
        "assigned_agent_id": row["assigned_agent_id"],
        "group_id": row["group_id"],
        "priority": _PRIORITIES[row["priority"]],
        "last_seq": row["last_seq"],
        "read_seq": row["agent_read_seq"],
        "last_visitor_seq": row["last_visitor_seq"],
        "last_agent_seq": row["last_agent_seq"],
        "visitor_seen_seq": row["visitor_seen_seq"],
        "visitor_delivered_seq": row["visitor_delivered_seq"],
        "state": state,
        "tags": tags,
        "unread": unread,
        "waiting_since": iso(row["waiting_since"]),
        "snoozed_until": iso(row["snoozed_until"]),
        "last_message": last_message,
        "created_at": iso(row["created_at"]),
    }


def _tags(c: Conversation) -> list[dict[str, Any]]:
    """Read with the row when it carries them (``selectors.with_send_facts``)."""
    read = getattr(c, "tags_json", None)
    if read is not None:
        return json.loads(read)
    return [{"id": t.pk, "name": t.name, "color": t.color} for t in c.tags.all()]


def note(n: Note) -> dict[str, Any]:
    """An internal note (staff only). ``n.agent`` and ``n.mentions`` loaded."""
    return {
        "id": str(n.pk),
        "conversation_id": str(n.conversation_id),
        "agent_id": n.agent_id,
        "agent_name": n.agent.display_name if n.agent is not None else None,
        "body": n.body,
        "mentions": [{"id": a.pk, "name": a.display_name} for a in n.mentions.all()],
        "client_id": str(n.client_id) if n.client_id else None,
        "created_at": iso(n.created_at),
    }
