"""Writes of the conversations domain, by concern: visitors (sessions), sending (messages and
receipts), conversations (their life). Inputs are already validated at the edges.

Callers use ``from helpdesk import services`` and the names below; the timeline those build
on is ``helpdesk.timeline``.
"""

from helpdesk.services.conversations import (
    agent_came_online,
    agent_went_offline,
    conversation_claim,
    conversation_mark_read,
    conversation_reopen,
    conversation_resolve,
    conversation_set_tags,
    conversation_snooze,
    conversation_tag_add,
    conversations_wake,
    move_read_cursor,
)
from helpdesk.services.notes import NoteResult, note_add
from helpdesk.services.replies import NotAllowed as ReplyNotAllowed
from helpdesk.services.replies import saved_reply_delete, saved_reply_save
from helpdesk.services.sending import (
    NotAssigned,
    SendResult,
    message_send_by_agent,
    message_send_by_visitor,
    visitor_receipt,
)
from helpdesk.services.visitors import (
    PendingVisitor,
    UnknownSite,
    VisitorContext,
    VisitorSession,
    identity_hash,
    identity_verified,
    pending_from_claim,
    pending_token,
    visitor_correct,
    visitor_create,
    visitor_first_write,
    visitor_session_from_hello,
    visitor_session_start,
    visitor_welcome,
)
from helpdesk.timeline import conversation_changed, message_add_system, system_text

__all__ = [
    "NotAssigned",
    "NoteResult",
    "PendingVisitor",
    "ReplyNotAllowed",
    "SendResult",
    "UnknownSite",
    "VisitorContext",
    "VisitorSession",
    "agent_came_online",
    "agent_went_offline",
    "conversation_changed",
    "conversation_claim",
    "conversation_mark_read",
    "conversation_reopen",
    "conversation_resolve",
    "conversation_set_tags",
    "conversation_snooze",
    "conversation_tag_add",
    "conversations_wake",
    "identity_hash",
    "identity_verified",
    "message_add_system",
    "message_send_by_agent",
    "message_send_by_visitor",
    "move_read_cursor",
    "note_add",
    "pending_from_claim",
    "pending_token",
    "saved_reply_delete",
    "saved_reply_save",
    "system_text",
    "visitor_correct",
    "visitor_create",
    "visitor_first_write",
    "visitor_receipt",
    "visitor_session_from_hello",
    "visitor_session_start",
    "visitor_welcome",
]
