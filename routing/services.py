"""Who gets a conversation, and when.

Order of decisions (docs/routing.md):
1. At the first message, the first matching rule sets group, priority and required skills
   (else the site's default group, normal priority).
2. The group's eligible agents (member, every skill, available, connected, under capacity)
   are ordered by the group's strategy; the first whose row lock confirms room gets it.
3. Nobody: it waits in the queue, ordered by priority, then by time queued.
4. When an agent becomes available (login, away → available, room freed), they take
   waiting conversations they are eligible for, highest priority and longest waiting
   first, up to their capacity.

Capacity holds under concurrency because every assignment to an agent happens while that
agent's row is locked; waiting conversations are claimed with ``SKIP LOCKED``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from helpdesk import access, events, jobs, timeline
from helpdesk import selectors as helpdesk_selectors
from helpdesk.models import Agent, AgentGroup, Conversation
from offline.models import OfflineMessage
from privacy import audit
from routing import presence, rules, selectors
from routing.models import OnlineSession, Skill


def _room(agent_id: int) -> int:
    """Lock the agent's row and return how many more conversations they may take now.

    ``FOR NO KEY UPDATE`` (of the agent row only): it serialises assignments to this agent
    without blocking rows that merely point at them, such as the agent's own new replies.
    The load is counted by a statement of its own, once the lock is held: counted in the
    locking statement, it would be read as of before the wait for the lock, and miss what
    the previous holder has just assigned.
    """
    agent = (
        Agent.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk=agent_id)
        .annotate(room_for=selectors.capacity())
        .values_list("status", "user__is_active", "room_for")
        .first()
    )
    if agent is None or agent[:2] != (Agent.Status.AVAILABLE, True):
        return 0
    return int(agent[2]) - selectors.open_loads([agent_id])[agent_id]


def _mark_assigned(agent_id: int, now: datetime) -> None:
    Agent.objects.filter(pk=agent_id).update(last_assigned_at=now)


def conversation_classify(*, conversation: Conversation, first_message: str) -> rules.Outcome:
    """Apply the routing rules to a new conversation (locked by the caller)."""
    visitor = conversation.visitor
    ctx = rules.Context(
        site_id=conversation.site_id,
        channel=conversation.channel,
        language=visitor.language,
        page_url=visitor.page_url,
        attributes=visitor.attributes if isinstance(visitor.attributes, dict) else {},
        first_message=first_message,
    )
    outcome = rules.classify(selectors.active_rules(), ctx, conversation.site.default_group_id)
    now = timezone.now()
    conversation.group_id = outcome.group_id
    conversation.priority = outcome.priority
    conversation.queued_at = conversation.group_entered_at = now
    conversation.save(update_fields=["group", "priority", "queued_at", "group_entered_at"])
    if outcome.skill_ids:
        conversation.required_skills.set(outcome.skill_ids)
    return outcome


def conversation_route(
    *, conversation: Conversation, skill_ids: Iterable[int] | None = None
) -> int | None:
    """Give a waiting conversation (locked by the caller) to the best eligible agent."""
    if conversation.group_id is None or conversation.assigned_agent_id is not None:
        return conversation.assigned_agent_id
    if skill_ids is None:
        skill_ids = list(conversation.required_skills.values_list("pk", flat=True))
    strategy = AgentGroup.objects.values_list("strategy", flat=True).get(pk=conversation.group_id)
    for candidate in selectors.by_strategy(
        selectors.eligible(conversation.group_id, skill_ids), strategy
    ):
        # Each try in a savepoint: an agent with no room is unlocked again at once, so a
        # transaction never holds more than the one agent lock it uses.
        savepoint = transaction.savepoint()
        if _room(candidate.agent_id) <= 0:
            transaction.savepoint_rollback(savepoint)
            continue
        transaction.savepoint_commit(savepoint)
        now = timezone.now()
        conversation.assigned_agent_id = candidate.agent_id
        conversation.assigned_at = now
        conversation.save(update_fields=["assigned_agent", "assigned_at"])
        _take_read_cursor(conversation, candidate.agent_id)
        _mark_assigned(candidate.agent_id, now)
        pending_work_follows(conversation_id=conversation.pk, agent_id=candidate.agent_id)
        return candidate.agent_id
    return None


def pending_work_follows(*, conversation_id: uuid.UUID, agent_id: int) -> None:
    """The conversation has just become ``agent_id``'s (by any path, in the caller's
    transaction): whatever of it still waits in the offline store is pushed to them after
    commit. Without this, a message stored while nobody was online stayed pending when a
    later message's routing gave the conversation to an agent who was already online: they
    got the later one live and the earlier one only at their next login."""
    waiting = OfflineMessage.objects.filter(
        conversation_id=conversation_id,
        audience=OfflineMessage.Audience.AGENT,
        state=OfflineMessage.State.PENDING,
    )
    if waiting.exists():
        _flush([agent_id])


def _take_read_cursor(conversation: Conversation, agent_id: int) -> None:
    """Handed over: the conversation's read state is now how far *this* agent has read it."""
    Conversation.objects.filter(pk=conversation.pk).update(
        agent_read_seq=helpdesk_selectors.read_cursor_of(agent_id)
    )
    conversation.refresh_from_db(fields=["agent_read_seq"])


# Waiting work is taken best first: highest priority, then longest queued.
_QUEUE_ORDER = ("-priority", "queued_at", "created_at")
# PostgreSQL: the eligible waiting conversations (the ORM's query, compiled: it stays the one
# definition of who may take what) are claimed ``SKIP LOCKED``, assigned and the agent
# marked, in one statement. Table names come from model metadata.
_TAKE = """
    WITH picked (id, priority, queued_at, created_at, read_seq) AS ({pick}),
    taken AS (
        UPDATE {conversation} u
        SET assigned_agent_id = %s, assigned_at = %s, agent_read_seq = picked.read_seq
        FROM picked WHERE u.id = picked.id AND u.assigned_agent_id IS NULL
        RETURNING u.id
    ), marked AS (
        UPDATE {agent} SET last_assigned_at = %s WHERE id = %s AND EXISTS (SELECT FROM taken)
    )
    SELECT picked.id FROM picked JOIN taken ON taken.id = picked.id ORDER BY {order}
"""


@transaction.atomic
def agent_take_waiting(*, agent_id: int) -> list[uuid.UUID]:
    """The agent became available: take eligible waiting work, best first, up to capacity."""
    if not presence.online_agent_ids([agent_id]):
        return []
    room = _room(agent_id)
    if room <= 0:
        return []
    lacking = Skill.objects.exclude(agents=agent_id)
    waiting = (
        Conversation.objects.select_for_update(skip_locked=True)
        .filter(
            status=Conversation.Status.OPEN,
            assigned_agent__isnull=True,
            group__in=AgentGroup.objects.filter(agents=agent_id),
        )
        .exclude(required_skills__in=lacking)
        .order_by(*_QUEUE_ORDER)
    )
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _take(waiting, agent_id, room, now)
    ids = list(waiting.values_list("pk", flat=True)[:room])
    if ids:
        Conversation.objects.filter(pk__in=ids, assigned_agent__isnull=True).update(
            assigned_agent=agent_id,
            assigned_at=now,
            agent_read_seq=helpdesk_selectors.read_cursor_of(agent_id),
        )
        _mark_assigned(agent_id, now)
    return ids


def _take(
    waiting: QuerySet[Conversation], agent_id: int, room: int, now: datetime
) -> list[uuid.UUID]:
    """``agent_take_waiting``'s claim as one statement (``_TAKE``)."""
    pick = waiting.annotate(read_seq=helpdesk_selectors.read_cursor_of(agent_id)).values_list(
        "pk", "priority", "queued_at", "created_at", "read_seq"
    )[:room]
    sql, params = pick.query.sql_with_params()
    order = ", ".join(f"{f[1:]} DESC" if f.startswith("-") else f for f in _QUEUE_ORDER)
    statement = _TAKE.format(
        pick=sql,
        conversation=Conversation._meta.db_table,
        agent=Agent._meta.db_table,
        order=order,
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, agent_id, now, now, agent_id])
        return [row[0] for row in cursor.fetchall()]


@transaction.atomic
def agent_set_status(*, agent_id: int, status: str) -> None:
    """Available or away. Becoming available (and connected) takes waiting work at once."""
    now = timezone.now()
    changed = (
        Agent.objects.filter(pk=agent_id)
        .exclude(status=status)
        .update(status=status, status_changed_at=now)
    )
    if not changed:
        return
    if status == Agent.Status.AVAILABLE:
        jobs.enqueue_on_commit(jobs.FLUSH_AGENT, agent_id)
    transaction.on_commit(lambda: agent_presence_changed(agent_id=agent_id), robust=True)
    events.send_event_on_commit(
        [events.agent_group(agent_id)], {"type": "status", "status": status}
    )


def agent_seen(*, agent_id: int, every: timedelta = timedelta(minutes=1)) -> None:
    """Record that the agent was connected just now (at most once per ``every``)."""
    now = timezone.now()
    Agent.objects.filter(pk=agent_id).filter(
        Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - every)
    ).update(last_seen_at=now)


def agent_presence_changed(*, agent_id: int) -> None:
    """Tell the visitors of the agent's sites whether anyone is on duty now."""
    for site_id, online in selectors.sites_on_duty(selectors.sites_served_by(agent_id)).items():
        events.send_event_now(
            [events.site_group(site_id)], {"type": "presence", "agents_online": online}
        )


def _requeue(conversation: Conversation, *, kind: str, **meta: Any) -> int | None:
    """Back to the queue (keeping its place) and routed again; the history gets a line and
    the agents concerned hear of it. Returns who has it now. The caller locks the row and
    enqueues a flush for that agent (once per batch)."""
    previous = conversation.assigned_agent_id
    conversation.assigned_agent_id = None
    conversation.assigned_at = None
    conversation.save(update_fields=["assigned_agent", "assigned_at", "group", "group_entered_at"])
    now_with = conversation_route(conversation=conversation)
    timeline.message_add_system(conversation=conversation, kind=kind, **meta)
    timeline.conversation_changed(
        conversation=conversation, agent_ids=[a for a in (previous, now_with) if a], flush=False
    )
    return now_with


def _flush(agent_ids: Iterable[int | None]) -> None:
    """Push to each agent who received work, once, after the work is committed."""
    for agent_id in {a for a in agent_ids if a}:
        jobs.enqueue_on_commit(jobs.FLUSH_AGENT, agent_id)


def _gone(cutoff: datetime, agent_ids: Iterable[int] | None = None) -> dict[int, str]:
    """Agents away or offline since before ``cutoff`` (or inactive), with their names."""
    qs = Agent.objects.all() if agent_ids is None else Agent.objects.filter(pk__in=list(agent_ids))
    rows = list(
        qs.values_list(
            "pk", "display_name", "status", "status_changed_at", "last_seen_at", "user__is_active"
        )
    )
    connected = presence.online_agent_ids(r[0] for r in rows)
    never = datetime.min.replace(tzinfo=UTC)
    return {
        pk: name
        for pk, name, status, changed, seen, active in rows
        if not active
        or (status == Agent.Status.AWAY and (changed or never) < cutoff)
        or (pk not in connected and (seen or never) < cutoff)
    }


def conversations_requeue_unattended(*, now: datetime | None = None) -> int:
    """Conversations waiting on an agent's reply whose agent went away or offline more than
    the grace period ago (and who has had them that long) go back to the queue."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ROUTING_GRACE_SECONDS)
    stale = Conversation.objects.filter(
        status=Conversation.Status.OPEN,
        waiting_since__isnull=False,
        assigned_agent__isnull=False,
        assigned_at__lt=cutoff,  # a fresh transfer to an absent agent gets its grace too
    )
    holders = set(stale.values_list("assigned_agent", flat=True).distinct())
    moved = 0
    for agent_id, name in _gone(cutoff, holders).items():
        receivers: list[int | None] = []
        for conversation_id in stale.filter(assigned_agent=agent_id).values_list("pk", flat=True):
            if agent_id not in _gone(cutoff, [agent_id]):
                break  # came back meanwhile: keep the rest
            with transaction.atomic():  # one conversation, one transaction: no lock piles up
                conversation = (
                    Conversation.objects.select_for_update(skip_locked=True)
                    .filter(
                        pk=conversation_id, assigned_agent=agent_id, waiting_since__isnull=False
                    )
                    .select_related("visitor")
                    .first()
                )
                if conversation is None:
                    continue
                receivers.append(_requeue(conversation, kind="requeued", agent_name=name))
                moved += 1
        with transaction.atomic():
            _flush(receivers)
    return moved


def conversations_overflow(*, now: datetime | None = None) -> int:
    """Waiting past a group's limit: move to its fallback group, with a line, and route."""
    now = now or timezone.now()
    moved = 0
    groups = (
        AgentGroup.objects.filter(overflow_group__isnull=False, overflow_after_minutes__gt=0)
        .exclude(overflow_group=F("pk"))
        .values_list("pk", "overflow_group", "overflow_group__name", "overflow_after_minutes")
    )
    for group_id, fallback_id, fallback_name, minutes in groups:
        overdue = Conversation.objects.filter(
            group=group_id,
            status=Conversation.Status.OPEN,
            assigned_agent__isnull=True,
            group_entered_at__lt=now - timedelta(minutes=minutes or 0),
        ).values_list("pk", flat=True)
        receivers: list[int | None] = []
        for conversation_id in overdue[:500]:
            with transaction.atomic():
                conversation = (
                    Conversation.objects.select_for_update(skip_locked=True)
                    .filter(pk=conversation_id, group=group_id, assigned_agent__isnull=True)
                    .select_related("visitor")
                    .first()
                )
                if conversation is None:
                    continue
                conversation.group_id = fallback_id
                conversation.group_entered_at = now
                receivers.append(
                    _requeue(conversation, kind="overflowed", group_name=fallback_name)
                )
                moved += 1
        with transaction.atomic():
            _flush(receivers)
    return moved


@transaction.atomic
def conversation_route_waiting(*, conversation_id: uuid.UUID) -> int | None:
    """Route one waiting conversation now (after a login race); push it to whoever gets it.

    It waits for the row lock rather than skipping a locked row: the transaction holding it
    (the visitor's next message) may not assign it, and a skipped route was lost until the
    next sweep. Locks are taken conversation first, then agent, as every path does."""
    conversation = (
        Conversation.objects.select_for_update()
        .filter(pk=conversation_id, status=Conversation.Status.OPEN, assigned_agent__isnull=True)
        .first()
    )
    if conversation is None:
        return None
    agent_id = conversation_route(conversation=conversation)
    _flush([agent_id])
    return agent_id


class NotAllowed(Exception):
    """The acting agent may not move this conversation."""


@transaction.atomic
def conversation_transfer(
    *,
    conversation_id: uuid.UUID,
    by_name: str,
    actor: access.Actor | None = None,
    to_agent_id: int | None = None,
    to_group_id: int | None = None,
    reason: str = "",
) -> Conversation:
    """Move a conversation to an agent (a person's decision: capacity is not enforced) or to
    a group (back to its queue there, then routed). The history says who moved it and why.

    ``actor`` (a person, in the inbox or the back office) is checked under the row lock;
    None: the system itself.

    Raises ``NotAllowed``."""
    conversation = (
        Conversation.objects.select_for_update().select_related("visitor").get(pk=conversation_id)
    )
    if actor is not None and not access.may(actor, access.Action.TRANSFER, conversation):
        raise NotAllowed(access.refusal(actor, access.Action.TRANSFER, conversation))
    previous = conversation.assigned_agent_id
    now = timezone.now()
    if to_agent_id is not None:
        target = Agent.objects.get(pk=to_agent_id)
        conversation.assigned_agent_id = target.pk
        conversation.assigned_at = now
        conversation.save(update_fields=["assigned_agent", "assigned_at"])
        _take_read_cursor(conversation, target.pk)
        _mark_assigned(target.pk, now)
        meta = {"to_agent": target.display_name}
    else:
        assert to_group_id is not None  # the caller names an agent or a group
        group = AgentGroup.objects.get(pk=to_group_id)
        conversation.group_id = group.pk
        conversation.group_entered_at = now
        conversation.assigned_agent_id = None
        conversation.assigned_at = None
        conversation.save(
            update_fields=["group", "group_entered_at", "assigned_agent", "assigned_at"]
        )
        meta = {"to_group": group.name}
        conversation_route(conversation=conversation)
    timeline.message_add_system(
        conversation=conversation, kind="transferred", by=by_name, reason=reason, **meta
    )
    audit.conversation_transferred(  # the audit log (privacy)
        actor=actor,
        by_name=by_name,
        conversation=conversation,
        previous_agent_id=previous,
        reason=reason,
    )
    new = conversation.assigned_agent_id
    # The one who moved it hears too (their other tabs, and the inbox that asked).
    by = actor.agent_id if actor is not None else None
    timeline.conversation_changed(
        conversation=conversation, agent_ids=[a for a in (previous, new, by) if a], flush=False
    )
    # The new agent gets it pushed; the previous one has room again for waiting work.
    _flush([new, previous if previous != new else None])
    return conversation


# ---- online time (planned against actual hours in the reports) ------------------------------


def online_session_start(*, agent_id: int) -> None:
    """The agent's first socket opened. A session a killed process left open ends when the
    agent was last seen."""
    now = timezone.now()
    left_open = list(OnlineSession.objects.filter(agent_id=agent_id, ended_at__isnull=True))
    if left_open:
        last_seen = Agent.objects.values_list("last_seen_at", flat=True).get(pk=agent_id)
        for session in left_open:
            end = max(session.started_at, min(last_seen or session.started_at, now))
            OnlineSession.objects.filter(pk=session.pk).update(ended_at=end)
    OnlineSession.objects.create(agent_id=agent_id, started_at=now)


def online_session_end(*, agent_id: int) -> None:
    OnlineSession.objects.filter(agent_id=agent_id, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )
