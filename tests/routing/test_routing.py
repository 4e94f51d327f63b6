"""Routing decisions, one rule at a time, through the real services on PostgreSQL.

People: Alice and Bob in Support (Acme's default group); Charlie in Sales.
"""

from __future__ import annotations

import uuid
from datetime import UTC, time, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk import services as helpdesk_services
from helpdesk.models import (
    Agent,
    AgentGroup,
    Conversation,
    Message,
    Priority,
    ReadCursor,
    Site,
)
from routing import presence, selectors, services
from routing.models import OpeningPeriod, RoutingRule, Schedule, Skill
from tests.factories import ConversationFactory, SiteFactory, VisitorFactory

pytestmark = pytest.mark.django_db(transaction=True)


def online(*agents: Agent) -> None:
    for agent in agents:
        presence.store().connect("agent", str(agent.id), f"sock-{uuid.uuid4()}")


def offline(agent: Agent) -> None:
    presence.store().clear()


def visitor_writes(site, body: str = "hello", **visitor_fields):
    visitor = VisitorFactory(site=site, **visitor_fields)
    result = helpdesk_services.message_send_by_visitor(
        visitor=visitor, client_id=uuid.uuid4(), body=body
    )
    return Conversation.objects.get(pk=result.message.conversation_id)


def waiting(site, *, priority=Priority.NORMAL, skills=(), minutes_ago=0, group=None):
    conv = ConversationFactory(
        visitor=VisitorFactory(site=site),
        group=group or site.default_group,
        priority=priority,
        queued_at=timezone.now() - timedelta(minutes=minutes_ago),
    )
    conv.required_skills.set(skills)
    return conv


def test_it_gives_a_new_conversation_to_the_least_loaded_available_agent(acme, alice, bob):
    online(alice, bob)
    first = visitor_writes(acme)
    second = visitor_writes(acme)
    assert {first.assigned_agent_id, second.assigned_agent_id} == {alice.id, bob.id}


def test_balanced_ties_go_to_the_agent_idle_longest(acme, alice, bob):
    online(alice, bob)
    Agent.objects.filter(pk=alice.pk).update(last_assigned_at=timezone.now())
    Agent.objects.filter(pk=bob.pk).update(last_assigned_at=timezone.now() - timedelta(hours=1))
    assert visitor_writes(acme).assigned_agent_id == bob.id


def test_round_robin_ignores_load(acme, support, alice, bob):
    AgentGroup.objects.filter(pk=support.pk).update(strategy="round_robin")
    online(alice, bob)
    waiting_for_bob = [
        ConversationFactory(visitor=VisitorFactory(site=acme), assigned_agent=bob) for _ in range(3)
    ]
    Agent.objects.filter(pk=alice.pk).update(last_assigned_at=timezone.now())
    Agent.objects.filter(pk=bob.pk).update(last_assigned_at=timezone.now() - timedelta(hours=1))
    assert visitor_writes(acme).assigned_agent_id == bob.id  # longest since assigned, despite load
    assert len(waiting_for_bob) == 3


def test_away_offline_full_and_unskilled_agents_get_nothing(acme, support, alice, bob):
    online(alice)  # Bob is not connected
    Agent.objects.filter(pk=alice.pk).update(status="away")
    assert visitor_writes(acme).assigned_agent_id is None
    Agent.objects.filter(pk=alice.pk).update(status="available", capacity=0)
    assert visitor_writes(acme).assigned_agent_id is None
    Agent.objects.filter(pk=alice.pk).update(capacity=None)
    chinese = Skill.objects.create(name="chinese")
    rule = RoutingRule.objects.create(name="zh", language="zh", group=support)
    rule.required_skills.add(chinese)
    assert visitor_writes(acme, language="zh-CN").assigned_agent_id is None
    alice.skills.add(chinese)
    assert visitor_writes(acme, language="zh-CN").assigned_agent_id == alice.id


def test_an_agent_serves_the_sites_routed_to_their_groups(acme, support, sales, alice, charlie):
    """Whose coming and going the visitors of a site hear of (presence)."""
    other = SiteFactory(default_group=sales)
    via_rule = SiteFactory(default_group=sales)
    RoutingRule.objects.create(name="vip", site=via_rule, group=support)
    switched_off = SiteFactory(default_group=sales)
    RoutingRule.objects.create(name="off", site=switched_off, group=support, active=False)

    assert set(selectors.sites_served_by(alice.id)) == {acme.id, via_rule.id}
    assert set(selectors.sites_served_by(charlie.id)) == {other.id, via_rule.id, switched_off.id}
    assert selectors.site_group_ids([acme.id, other.id, via_rule.id, switched_off.id]) == {
        acme.id: {support.id},
        other.id: {sales.id},
        via_rule.id: {sales.id, support.id},
        switched_off.id: {sales.id},
    }
    RoutingRule.objects.create(name="everywhere", group=support)  # no site: every site
    everywhere = set(Site.objects.values_list("pk", flat=True))
    assert set(selectors.sites_served_by(alice.id)) == everywhere
    assert selectors.site_group_ids([other.id]) == {other.id: {sales.id, support.id}}


def test_the_first_matching_rule_sets_group_priority_and_skills(acme, support, sales, charlie):
    billing = Skill.objects.create(name="billing")
    RoutingRule.objects.create(name="later", order=20, keywords="invoice", group=support)
    urgent = RoutingRule.objects.create(
        name="pro refunds",
        order=10,
        keywords="refund, invoice",
        attributes={"plan": "pro"},
        group=sales,
        priority=Priority.URGENT,
    )
    urgent.required_skills.add(billing)
    conv = visitor_writes(acme, "I need a REFUND for my invoice", attributes={"plan": "pro"})
    assert (conv.group_id, conv.priority) == (sales.id, Priority.URGENT)
    assert list(conv.required_skills.all()) == [billing]
    other = visitor_writes(acme, "invoice please", attributes={"plan": "free"})
    assert (other.group_id, other.priority) == (support.id, Priority.NORMAL)
    plain = visitor_writes(acme, "hello")
    assert plain.group_id == support.id  # the site's default group


def test_an_agent_coming_online_takes_the_best_waiting_work_up_to_capacity(acme, alice):
    alice.capacity = 2
    alice.save(update_fields=["capacity"])
    old_low = waiting(acme, priority=Priority.LOW, minutes_ago=60)
    new_urgent = waiting(acme, priority=Priority.URGENT, minutes_ago=1)
    old_normal = waiting(acme, minutes_ago=30)
    new_normal = waiting(acme, minutes_ago=5)
    online(alice)
    taken = services.agent_take_waiting(agent_id=alice.id)
    assert taken == [new_urgent.id, old_normal.id]
    assert not Conversation.objects.filter(
        pk__in=[old_low.id, new_normal.id], assigned_agent__isnull=False
    ).exists()


def test_it_skips_work_needing_a_skill_the_agent_lacks(acme, alice):
    vip = Skill.objects.create(name="vip")
    needs_vip = waiting(acme, skills=[vip], minutes_ago=10)
    plain = waiting(acme, minutes_ago=1)
    online(alice)
    assert services.agent_take_waiting(agent_id=alice.id) == [plain.id]
    alice.skills.add(vip)
    assert services.agent_take_waiting(agent_id=alice.id) == [needs_vip.id]


def test_taken_work_comes_with_the_agents_own_read_state_and_marks_them_assigned(acme, alice, bob):
    read_before, never_read = waiting(acme, minutes_ago=10), waiting(acme, minutes_ago=5)
    ReadCursor.objects.create(agent=alice, conversation=read_before, seq=7)
    ReadCursor.objects.create(agent=bob, conversation=never_read, seq=3)  # Bob's, not hers
    online(alice)
    before = timezone.now()

    assert services.agent_take_waiting(agent_id=alice.id) == [read_before.id, never_read.id]

    seqs = dict(Conversation.objects.values_list("pk", "agent_read_seq"))
    assert seqs == {read_before.id: 7, never_read.id: 0}
    alice.refresh_from_db()
    assert alice.last_assigned_at >= before
    assert set(Conversation.objects.values_list("assigned_at", flat=True)) == {
        alice.last_assigned_at
    }


def test_taking_waiting_work_costs_the_same_queries_for_any_backlog(acme, alice):
    online(alice)
    counts = []
    for backlog in (2, 30):
        for _ in range(backlog):
            waiting(acme)
        with CaptureQueriesContext(connection) as queries:
            assert len(services.agent_take_waiting(agent_id=alice.id)) == backlog
        counts.append(len(queries))
        Conversation.objects.update(status=Conversation.Status.RESOLVED)  # room again
    assert counts[0] == counts[1] <= 5, counts  # BEGIN, lock, load, take, COMMIT


def test_nothing_is_taken_and_nobody_is_marked_when_no_work_fits(acme, alice):
    vip = Skill.objects.create(name="vip")
    waiting(acme, skills=[vip])
    online(alice)
    assert services.agent_take_waiting(agent_id=alice.id) == []
    alice.refresh_from_db()
    assert alice.last_assigned_at is None


def test_away_to_available_takes_waiting_work(acme, alice):
    Agent.objects.filter(pk=alice.pk).update(status="away")
    online(alice)
    conv = waiting(acme)
    assert services.agent_take_waiting(agent_id=alice.id) == []
    services.agent_set_status(agent_id=alice.id, status="available")  # eager flush on commit
    conv.refresh_from_db()
    assert conv.assigned_agent_id == alice.id


def test_the_queue_position_and_the_team_next_in(acme, support):
    first = waiting(acme, minutes_ago=10)
    urgent = waiting(acme, priority=Priority.URGENT, minutes_ago=1)
    later = waiting(acme, minutes_ago=5)
    assert [selectors.queue_position(c) for c in (urgent, first, later)] == [1, 2, 3]
    hours = Schedule.objects.create(name="Shanghai office", timezone="Asia/Shanghai")
    for day in range(5):
        OpeningPeriod.objects.create(schedule=hours, weekday=day, opens=time(9), closes=time(18))
    AgentGroup.objects.filter(pk=support.pk).update(business_hours=hours)
    saturday_noon_utc = timezone.datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    monday_9_shanghai = timezone.datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    assert selectors.team_next_in(first, saturday_noon_utc) == monday_9_shanghai


def test_a_visitor_arriving_off_hours_is_told_when_the_team_is_back_in_their_time(acme, support):
    hours = Schedule.objects.create(name="Never open today", timezone="UTC")
    tomorrow = (timezone.now() + timedelta(days=1)).weekday()
    OpeningPeriod.objects.create(schedule=hours, weekday=tomorrow, opens=time(9), closes=time(10))
    AgentGroup.objects.filter(pk=support.pk).update(business_hours=hours)
    conv = visitor_writes(acme, timezone="America/Los_Angeles")
    notice = conv.messages.get(sender="system")
    assert notice.meta["kind"] == "offline" and notice.meta["next_open_at"]
    assert "We're next in on" in notice.body and ("PST" in notice.body or "PDT" in notice.body)


def test_a_busy_team_tells_the_visitor_their_place(acme, alice):
    alice.capacity = 0
    alice.save(update_fields=["capacity"])
    online(alice)
    visitor_writes(acme)
    second = visitor_writes(acme)
    notice = second.messages.get(sender="system")
    assert notice.meta == {"kind": "queued", "position": 2}
    assert second.waiting_since is not None  # a system line is never a reply


def test_an_agent_away_past_the_grace_period_loses_unanswered_work_to_a_colleague(
    acme, alice, bob, settings
):
    settings.ROUTING_GRACE_SECONDS = 300
    online(alice)
    conv = visitor_writes(acme)
    assert conv.assigned_agent_id == alice.id
    Conversation.objects.filter(pk=conv.pk).update(assigned_at=timezone.now() - timedelta(hours=1))
    Agent.objects.filter(pk=alice.pk).update(
        status="away", status_changed_at=timezone.now() - timedelta(minutes=4)
    )
    online(bob)
    assert services.conversations_requeue_unattended() == 0  # still within grace
    Agent.objects.filter(pk=alice.pk).update(
        status_changed_at=timezone.now() - timedelta(minutes=6)
    )
    assert services.conversations_requeue_unattended() == 1
    conv.refresh_from_db()
    assert conv.assigned_agent_id == bob.id
    line = conv.messages.filter(sender="system").last()
    assert line.meta == {"kind": "requeued", "agent_name": "Alice"}
    assert line.body == "We're connecting you with another agent."  # no error, no staff names


def test_an_offline_agent_past_grace_loses_it_too_but_answered_work_stays(acme, alice, settings):
    online(alice)
    asked = visitor_writes(acme)
    answered = visitor_writes(acme)
    helpdesk_services.message_send_by_agent(
        agent=alice, conversation=answered, client_id=uuid.uuid4(), body="hi"
    )
    presence.store().clear()
    Conversation.objects.update(assigned_at=timezone.now() - timedelta(hours=1))
    Agent.objects.filter(pk=alice.pk).update(last_seen_at=timezone.now() - timedelta(minutes=10))
    assert services.conversations_requeue_unattended() == 1
    assert Conversation.objects.get(pk=asked.pk).assigned_agent_id is None
    assert Conversation.objects.get(pk=answered.pk).assigned_agent_id == alice.id


def test_overflow_moves_long_waits_to_the_fallback_group(acme, support, sales, charlie):
    AgentGroup.objects.filter(pk=support.pk).update(overflow_group=sales, overflow_after_minutes=10)
    stale = waiting(acme, minutes_ago=11)
    Conversation.objects.filter(pk=stale.pk).update(
        group_entered_at=timezone.now() - timedelta(minutes=11)
    )
    fresh = waiting(acme, minutes_ago=2)
    Conversation.objects.filter(pk=fresh.pk).update(
        group_entered_at=timezone.now() - timedelta(minutes=2)
    )
    online(charlie)
    assert services.conversations_overflow() == 1
    stale.refresh_from_db()
    assert (stale.group_id, stale.assigned_agent_id) == (sales.id, charlie.id)
    assert Conversation.objects.get(pk=fresh.pk).group_id == support.id
    assert stale.messages.get(sender="system").meta == {"kind": "overflowed", "group_name": "Sales"}


def test_a_transfer_records_who_moved_it_and_why(acme, sales, alice, bob, charlie):
    online(alice, charlie)
    conv = visitor_writes(acme)
    services.conversation_transfer(
        conversation_id=conv.id, by_name="Alice", to_agent_id=bob.id, reason="knows the order"
    )
    conv.refresh_from_db()
    assert conv.assigned_agent_id == bob.id
    services.conversation_transfer(
        conversation_id=conv.id, by_name="Bob", to_group_id=sales.id, reason="a sales question"
    )
    conv.refresh_from_db()
    assert (conv.group_id, conv.assigned_agent_id) == (sales.id, charlie.id)
    lines = list(conv.messages.filter(sender="system", meta__kind="transferred").order_by("seq"))
    assert [(m.meta.get("by"), m.meta.get("reason")) for m in lines] == [
        ("Alice", "knows the order"),
        ("Bob", "a sales question"),
    ]
    from helpdesk import payloads

    visitor_view = payloads.message(lines[0], audience="visitor")
    assert "by" not in visitor_view["meta"] and "reason" not in visitor_view["meta"]
    assert Message.objects.filter(conversation=conv, sender="agent").count() == 0


def test_two_transactions_never_push_an_agent_over_capacity(acme, alice):
    """Two new conversations routed at once: the agent's row lock admits one at capacity 1."""
    import threading

    from django.db import connection

    alice.capacity = 1
    alice.save(update_fields=["capacity"])
    online(alice)
    convs = [waiting(acme) for _ in range(2)]
    barrier = threading.Barrier(2)

    def route(conv):
        barrier.wait()
        try:
            with transaction.atomic():
                locked = Conversation.objects.select_for_update().get(pk=conv.pk)
                services.conversation_route(conversation=locked)
        finally:
            connection.close()

    threads = [threading.Thread(target=route, args=(c,)) for c in convs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Conversation.objects.filter(assigned_agent=alice).count() == 1


def test_a_returning_visitor_is_told_their_place_in_welcome(acme, alice):
    from asgiref.sync import async_to_sync

    from tests.ws import latest_welcome, send_message, visitor_socket

    alice.capacity = 0
    alice.save(update_fields=["capacity"])
    online(alice)
    visitor_writes(acme)  # one ahead

    async def visit():
        sock, welcome = await visitor_socket(acme.widget_key)
        assert welcome["queue"] is None  # nothing asked yet
        await send_message(sock, "me too")
        await sock.close()
        _, welcome = await visitor_socket(acme.widget_key, latest_welcome(sock)["token"])
        return welcome

    welcome = async_to_sync(visit)()
    assert welcome["queue"] == {"position": 2}
