"""Who may see and do what: the one access rule behind every door.

Every socket action, HTTP endpoint, page, back-office list and report asks here, and nowhere
else (docs/security.md, "Access", has the table this code implements):

- a person's **visible set** (``visible``) is what they may list, count, search, open and read;
- one **predicate per action** (``may``) decides the rest, for a conversation in that set.

The rule, decided as a helpdesk customer would want it:

- An **agent** sees the conversations of their groups (waiting, theirs, a colleague's,
  resolved) and every conversation assigned to them (a transfer to them from another group
  included). A conversation transferred away to another group leaves their view.
- A **group manager** also sees the conversations of the groups they manage; a **site
  administrator** every conversation of their sites; a **superuser** everything. Nobody sees
  another site's conversations through any other path.
- **Reply** only to a conversation assigned to you, or **claim** a waiting one by replying:
  an agent of its group who has every skill it requires, or anyone who oversees it (its
  group's manager, its site's administrator, a superuser). Replying to a colleague's is
  refused; taking it over is a transfer.
- **Transfer** and **resolve**: its agent, anyone of its group while it waits, or anyone who
  oversees it. **Tag**: anyone who sees it. **Export** (a visitor's data, reports): those who
  oversee it.

Membership is read fresh for every frame and request (``actor_for``, one query), so a
change in the back office takes effect at once, even on open sockets.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Cast

from helpdesk.models import Agent, AgentGroup, Conversation, Site, Visitor


class Action(StrEnum):
    """What a person does to a conversation (list, count and search are ``LIST``)."""

    LIST = "list"
    OPEN = "open"  # read its history, mark it read
    REPLY = "reply"  # to one assigned to you, or claim a waiting one
    CLAIM = "claim"
    TRANSFER = "transfer"
    RESOLVE = "resolve"
    TAG = "tag"
    EXPORT = "export"


@dataclass(frozen=True)
class Actor:
    """A signed-in person's standing, read once per frame or request."""

    user_id: int
    agent_id: int | None = None
    superuser: bool = False
    member_of: frozenset[int] = frozenset()
    manages: frozenset[int] = frozenset()
    administers: frozenset[uuid.UUID] = frozenset()
    skills: frozenset[int] = frozenset()

    @property
    def oversees_any(self) -> bool:
        """A manager of some group, an administrator of some site, or a superuser: the
        message center's ``all`` scope and the back office's reports are theirs."""
        return self.superuser or bool(self.manages or self.administers)

    def oversees(self, conversation: Conversation) -> bool:
        return (
            self.superuser
            or conversation.group_id in self.manages
            or conversation.site_id in self.administers
        )


def actor_for(user: Any) -> Actor | None:
    """The actor behind a request or socket's user; None when nobody usable is signed in.

    One query: the user's flags, agent profile, groups, managed groups, administered sites
    and skills, as one union of rows."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "pk", None):
        return None
    text = CharField()

    def rows(qs: QuerySet[Any], kind: str, column: str) -> QuerySet[Any]:
        # No ORDER BY inside a UNION (a model's default ordering): SQLite refuses it.
        return (
            qs.order_by().annotate(k=Value(kind, text), v=Cast(column, text)).values_list("k", "v")
        )

    union = (
        rows(get_user_model().objects.filter(pk=user.pk, is_active=True), "u", "is_superuser")
        .union(
            rows(Agent.objects.filter(user_id=user.pk), "a", "pk"),
            rows(Agent.groups.through.objects.filter(agent__user_id=user.pk), "g", "agentgroup_id"),
            rows(AgentGroup.managers.through.objects.filter(user_id=user.pk), "m", "agentgroup_id"),
            rows(Site.administrators.through.objects.filter(user_id=user.pk), "s", "site_id"),
            rows(Agent.skills.through.objects.filter(agent__user_id=user.pk), "k", "skill_id"),
            all=True,
        )
        .order_by()
    )
    found: dict[str, list[str]] = {}
    for kind, value in union:
        found.setdefault(kind, []).append(value)
    if "u" not in found:
        return None  # deactivated (or deleted) since the session began
    superuser = found["u"][0].lower() in ("true", "1", "t")
    return Actor(
        user_id=user.pk,
        agent_id=int(found["a"][0]) if "a" in found else None,
        superuser=superuser,
        member_of=frozenset(int(v) for v in found.get("g", [])),
        manages=frozenset(int(v) for v in found.get("m", [])),
        administers=frozenset(uuid.UUID(v) for v in found.get("s", [])),
        skills=frozenset(int(v) for v in found.get("k", [])),
    )


def visible_q(actor: Actor, prefix: str = "") -> Q:
    """The visible set as a filter on conversations (``prefix``: from another model, e.g.
    ``conversation__``)."""
    if actor.superuser:
        return Q()
    match = Q(**{f"{prefix}pk__in": []})
    if actor.agent_id is not None:
        match |= Q(**{f"{prefix}assigned_agent_id": actor.agent_id})
    groups = actor.member_of | actor.manages
    if groups:
        match |= Q(**{f"{prefix}group_id__in": sorted(groups)})
    if actor.administers:
        match |= Q(**{f"{prefix}site_id__in": sorted(actor.administers)})
    return match


def visible(actor: Actor) -> QuerySet[Conversation]:
    """Every conversation ``actor`` may list, count, search and open."""
    return Conversation.objects.filter(visible_q(actor))


def visible_visitors(actor: Actor) -> QuerySet[Visitor]:
    """Visitors with a conversation in the visible set (and, for a site's administrators and
    superusers, every visitor of the site, even one who has not written yet)."""
    if actor.superuser:
        return Visitor.objects.all()
    match = Q(pk__in=visible(actor).values("visitor_id"))
    if actor.administers:
        match |= Q(site_id__in=sorted(actor.administers))
    return Visitor.objects.filter(match)


def is_visible(actor: Actor, conversation: Conversation) -> bool:
    """``visible``'s rule for a row in hand (tests hold the two equal)."""
    return (
        actor.superuser
        or (actor.agent_id is not None and conversation.assigned_agent_id == actor.agent_id)
        or conversation.group_id in actor.member_of
        or conversation.group_id in actor.manages
        or conversation.site_id in actor.administers
    )


def conversation_for(actor: Actor, conversation_id: Any) -> Conversation | None:
    """The conversation if ``actor`` may open it; None for a malformed ID, one that does not
    exist and one they may not see alike (nobody learns which)."""
    try:
        pk = uuid.UUID(str(conversation_id))
    except ValueError:
        return None
    return visible(actor).filter(pk=pk).first()


def required_skills(conversation: Conversation) -> frozenset[int]:
    return frozenset(conversation.required_skills.values_list("pk", flat=True))


def may(
    actor: Actor,
    action: Action,
    conversation: Conversation,
    *,
    skills: frozenset[int] | None = None,
) -> bool:
    """May ``actor`` do ``action`` to ``conversation``? ``skills``: the conversation's
    required skills when the caller has them (else read when a claim needs them)."""
    if not is_visible(actor, conversation):
        return False
    mine = actor.agent_id is not None and conversation.assigned_agent_id == actor.agent_id
    waiting = conversation.assigned_agent_id is None
    if action in (Action.LIST, Action.OPEN, Action.TAG):
        return True
    if action == Action.REPLY:
        return mine or (waiting and may(actor, Action.CLAIM, conversation, skills=skills))
    if action == Action.CLAIM:
        if actor.agent_id is None or not waiting:
            return False
        if actor.oversees(conversation):
            return True
        if conversation.group_id not in actor.member_of:
            return False
        needed = skills if skills is not None else required_skills(conversation)
        return needed <= actor.skills
    if action in (Action.TRANSFER, Action.RESOLVE):
        return (
            mine
            or actor.oversees(conversation)
            or (waiting and conversation.group_id in actor.member_of)
        )
    if action == Action.EXPORT:
        return actor.oversees(conversation)
    raise ValueError(f"unknown action {action!r}")


def refusal(actor: Actor, action: Action, conversation: Conversation) -> str:
    """Why ``may`` said no, in words for the error's ``detail``."""
    if conversation.assigned_agent_id not in (None, actor.agent_id):
        return "This conversation is assigned to another agent."
    if action in (Action.REPLY, Action.CLAIM) and actor.agent_id is None:
        return "Only agents reply to conversations."
    if action in (Action.REPLY, Action.CLAIM):
        return "This conversation waits for an agent with the skills it needs."
    if action == Action.EXPORT:
        return "Only a manager of its team or an administrator of its site may export it."
    return "Only its agent or a manager of its team may do this."


# ---- what else the doors list ------------------------------------------------------------------


def groups_overseen(actor: Actor) -> QuerySet[AgentGroup]:
    """Groups whose members and settings an actor manages in the back office."""
    if actor.superuser:
        return AgentGroup.objects.all()
    return AgentGroup.objects.filter(pk__in=sorted(actor.manages))


def groups_in_reach(actor: Actor) -> QuerySet[AgentGroup]:
    """Groups an actor's lists and reports may name: their own, those they manage, and
    those serving a site they administer (as its default group or through a rule)."""
    if actor.superuser:
        return AgentGroup.objects.all()
    match = Q(pk__in=sorted(actor.member_of | actor.manages))
    if actor.administers:
        sites = sorted(actor.administers)
        match |= Q(default_for_sites__in=sites) | Q(rules__site__in=sites)
    return AgentGroup.objects.filter(match).distinct()


def sites_in_reach(actor: Actor) -> QuerySet[Site]:
    """Sites an actor's lists and reports may name: those they administer, and those whose
    conversations can reach their groups (as default group or through a rule)."""
    if actor.superuser:
        return Site.objects.all()
    groups = sorted(actor.member_of | actor.manages)
    match = Q(pk__in=sorted(actor.administers)) | Q(default_group__in=groups)
    match |= Q(routingrule__group__in=groups)
    return Site.objects.filter(match).distinct()


def sites_administered(actor: Actor) -> QuerySet[Site]:
    if actor.superuser:
        return Site.objects.all()
    return Site.objects.filter(pk__in=sorted(actor.administers))


def agents_in_reach(actor: Actor) -> QuerySet[Agent]:
    """Agents an actor's lists and reports may name: the members of the groups in reach."""
    if actor.superuser:
        return Agent.objects.all()
    return Agent.objects.filter(groups__in=groups_in_reach(actor).values("pk")).distinct()
