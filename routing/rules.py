"""Which group, priority and skills a new conversation gets: the first matching rule.

Pure over plain data, so the admin preview, the routing service and the tests share it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from helpdesk.models import Priority


@dataclass(frozen=True)
class Context:
    """What is known when a conversation starts."""

    site_id: uuid.UUID
    channel: str = "web"
    language: str = ""
    page_url: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    first_message: str = ""


@dataclass(frozen=True)
class Outcome:
    group_id: int | None
    priority: int = Priority.NORMAL
    skill_ids: frozenset[int] = frozenset()
    rule_id: int | None = None
    rule_name: str = "site default"


def matches(rule: Any, ctx: Context) -> bool:
    """``rule``: a ``RoutingRule`` (any object with its fields). Empty conditions hold."""
    if rule.site_id is not None and rule.site_id != ctx.site_id:
        return False
    if rule.channel and rule.channel != ctx.channel:
        return False
    if rule.language and not ctx.language.lower().startswith(rule.language.lower()):
        return False
    if rule.url_contains and rule.url_contains.lower() not in ctx.page_url.lower():
        return False
    words = [w.strip().lower() for w in rule.keywords.split(",") if w.strip()]
    if words and not any(w in ctx.first_message.lower() for w in words):
        return False
    return all(str(ctx.attributes.get(k)) == str(v) for k, v in (rule.attributes or {}).items())


def classify(rules: Sequence[Any], ctx: Context, default_group_id: int | None) -> Outcome:
    """The first active rule in order that matches; else the site's default group."""
    for rule in rules:
        if rule.active and matches(rule, ctx):
            return Outcome(
                group_id=rule.group_id,
                priority=rule.priority,
                skill_ids=frozenset(_skill_ids(rule)),
                rule_id=rule.pk,
                rule_name=rule.name,
            )
    return Outcome(group_id=default_group_id)


def _skill_ids(rule: Any) -> Iterable[int]:
    return (s.pk for s in rule.required_skills.all())
