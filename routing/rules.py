"""Which group, priority and skills a new conversation gets: the first matching rule.

Pure over plain data, so the admin preview, the routing service and the tests share it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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


@dataclass(frozen=True)
class Rule:
    """A routing rule as plain data (from the database, or from an unsaved admin form)."""

    pk: int | None
    name: str
    group_id: int | None
    order: int = 100
    active: bool = True
    site_id: uuid.UUID | None = None
    channel: str = ""
    language: str = ""
    url_contains: str = ""
    keywords: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    priority: int = Priority.NORMAL
    skill_ids: frozenset[int] = frozenset()

    @classmethod
    def of(cls, rule: Any) -> Rule:
        """From a ``RoutingRule`` with ``required_skills`` prefetched."""
        return cls(
            pk=rule.pk,
            name=rule.name,
            group_id=rule.group_id,
            order=rule.order,
            active=rule.active,
            site_id=rule.site_id,
            channel=rule.channel,
            language=rule.language,
            url_contains=rule.url_contains,
            keywords=rule.keywords,
            attributes=rule.attributes or {},
            priority=rule.priority,
            skill_ids=frozenset(s.pk for s in rule.required_skills.all()),
        )


def matches(rule: Rule, ctx: Context) -> bool:
    """Every non-empty condition holds."""
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
    return all(str(ctx.attributes.get(k)) == str(v) for k, v in rule.attributes.items())


def classify(rules: Sequence[Rule], ctx: Context, default_group_id: int | None) -> Outcome:
    """The first active rule, by order, that matches; else the site's default group."""
    for rule in sorted(rules, key=lambda r: (r.order, r.pk or 0)):
        if rule.active and matches(rule, ctx):
            return Outcome(rule.group_id, rule.priority, rule.skill_ids, rule.pk, rule.name)
    return Outcome(group_id=default_group_id)
