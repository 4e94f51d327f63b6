"""``{% rating_links conversation as links %}``: the follow-up email's "How did we do?"
links, or nothing when there is nothing to ask (not resolved, the site does not ask)."""

from __future__ import annotations

from typing import Any

from django import template

from helpdesk import satisfaction
from helpdesk.models import Conversation

register = template.Library()


@register.simple_tag
def rating_links(conversation: Conversation | None) -> list[dict[str, Any]]:
    return satisfaction.rating_links(conversation) if conversation is not None else []
