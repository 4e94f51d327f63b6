"""Conversation summaries read in bulk on PostgreSQL: one written statement where the ORM's
query (``helpdesk.selectors.summary_rows``, ``with_summary``) cost more to build, and its
rows more to read, than the query took to run. The flush on login reads a thousand at a
time; every connect reads its agent's inbox. tests/helpdesk/test_message_center.py holds
these equal to the ORM's summaries, in every state and in inbox order.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import DateTimeField
from django.utils import timezone

from helpdesk import crypto, payloads
from helpdesk.models import Conversation, Message, Tag, Visitor


def state_of(row: dict[str, Any]) -> str:
    """``selectors.with_state``'s rule for a row in hand (tests hold the two equal)."""
    if row["status"] == Conversation.Status.RESOLVED:
        return "resolved"
    if row["snoozed_until"] is not None and row["snoozed_until"] > timezone.now():
        return "snoozed"
    if row["last_visitor_seq"] > row["agent_read_seq"]:
        return "unread"
    if row["last_visitor_seq"] > row["last_agent_seq"]:
        return "pending"
    return "replied"


def by_ids(ids: list[str]) -> list[dict[str, Any]]:
    """``selectors.summary_rows`` of these conversations."""
    return _read(_BY_IDS, [ids])


def inbox(agent_id: int) -> list[dict[str, Any]]:
    """The agent's open conversations, in ``selectors.inbox_order``."""
    return _read(_INBOX, [agent_id, Conversation.Status.OPEN])


# The last message by one lateral read instead of four subqueries, times read as text
# (Django's loader of timestamps is slow in bulk), the state computed from the row as
# ``selectors.conversation_summary_after`` does. Table and column names come from model
# metadata.
_SUMMARIES = """
    SELECT {columns}, v.{name}, v.{email},
        (SELECT count(*) FROM {message} u
         WHERE u.conversation_id = c.id AND u.sender = %s AND u.seq > c.agent_read_seq),
        last.body, last.id, last.sender, to_json(last.created_at) #>> '{{}}',
        (SELECT COALESCE(json_agg(json_build_object('id', t.id, 'name', t.name, 'color',
            t.color) ORDER BY t.name)::text, '[]')
         FROM {tag} t JOIN {link} l ON l.tag_id = t.id WHERE l.conversation_id = c.id)
    FROM {conversation} c JOIN {visitor} v ON v.id = c.visitor_id
    LEFT JOIN LATERAL (
        SELECT m.body, m.id, m.sender, m.created_at FROM {message} m
        WHERE m.conversation_id = c.id AND m.sender <> %s ORDER BY m.seq DESC LIMIT 1
    ) last ON TRUE
    WHERE {where}
"""
_BY_IDS = "c.id = ANY(%s::uuid[])"
# An agent's inbox, in ``inbox_order``.
_INBOX = (
    "c.assigned_agent_id = %s AND c.status = %s"
    " ORDER BY c.waiting_since ASC NULLS LAST, c.last_message_at DESC NULLS LAST"
)


@lru_cache(maxsize=2)
def _summaries_sql(where: str) -> tuple[str, tuple[bool, ...]]:
    """The statement, and which of its conversation columns are times (read as text)."""
    by_attname = {f.attname: f for f in Conversation._meta.concrete_fields}
    fields = [by_attname[f] for f in payloads.SUMMARY_FIELDS]
    times = tuple(isinstance(f, DateTimeField) for f in fields)
    columns = ", ".join(
        f"to_json(c.{f.column}) #>> '{{}}'" if t else f"c.{f.column}"
        for f, t in zip(fields, times, strict=True)
    )
    sql = _SUMMARIES.format(
        columns=columns,
        name=Visitor._meta.get_field("name").column,
        email=Visitor._meta.get_field("email").column,
        message=Message._meta.db_table,
        conversation=Conversation._meta.db_table,
        visitor=Visitor._meta.db_table,
        tag=Tag._meta.db_table,
        link=Conversation.tags.through._meta.db_table,
        where=where,
    )
    return sql, times


def _read(where: str, params: list[Any]) -> list[dict[str, Any]]:
    sql, times = _summaries_sql(where)
    with connection.cursor() as cursor:
        cursor.execute(sql, [Message.Sender.VISITOR, Message.Sender.SYSTEM, *params])
        fetched = cursor.fetchall()
    rows = []
    n = len(payloads.SUMMARY_FIELDS)
    for r in fetched:
        row = {
            f: (_when(v) if t else v)
            for f, v, t in zip(payloads.SUMMARY_FIELDS, r[:n], times, strict=True)
        }
        name, email, unread, body, last_id, sender, at, tags = r[n:]
        row.update(
            visitor__name=crypto.Sealed(name),
            visitor__email=crypto.Sealed(email),
            state=state_of(row),
            unread=unread,
            last_body=body,
            last_id=last_id,
            last_sender=sender,
            last_at=_when(at),
            tags_json=tags,
        )
        rows.append(row)
    return rows


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
