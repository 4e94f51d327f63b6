"""Regression tests for the routing review: locks held, who hears of moved work, who may move
it, closing conversations, and what a typo in the back office can break."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from helpdesk import access, events
from helpdesk import services as helpdesk_services
from helpdesk.models import Agent, AgentGroup, Conversation
from routing import presence, selectors, services
from routing.models import Schedule
from tests.factories import ConversationFactory, VisitorFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch):
    frames: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(
        events, "deliver", lambda groups, text: frames.append((groups, json.loads(text)))
    )
    return frames


def online(*agents):
    for a in agents:
        presence.store().connect("agent", str(a.id), f"s-{uuid.uuid4()}")


def waiting(site, **kw):
    return ConversationFactory(visitor=VisitorFactory(site=site), **kw)


def test_routing_keeps_no_lock_on_an_agent_without_room(acme, alice, bob, monkeypatch):
    """The eligibility read is stale (Alice filled up since): she is tried first, found full
    under her lock, and unlocked again; only Bob, who gets it, stays locked."""
    Agent.objects.filter(pk=alice.pk).update(capacity=0)
    online(alice, bob)
    stale = [selectors.Candidate(alice.id, 0, 5, None), selectors.Candidate(bob.id, 0, 5, None)]
    monkeypatch.setattr(selectors, "eligible", lambda group_id, skill_ids: stale)
    conv = waiting(acme)
    result = {}

    def other_transaction():
        try:
            with transaction.atomic():
                Agent.objects.select_for_update(nowait=True).get(pk=alice.pk)
                result["alice"] = "free"
                try:
                    Agent.objects.select_for_update(nowait=True).get(pk=bob.pk)
                    result["bob"] = "free"
                except OperationalError:
                    result["bob"] = "locked"
        finally:
            connection.close()

    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conv.pk)
        assert services.conversation_route(conversation=locked) == bob.id
        t = threading.Thread(target=other_transaction)
        t.start()
        t.join()
    assert result == {"alice": "free", "bob": "locked"}


def test_the_agent_who_receives_overflowed_work_hears_of_it(acme, support, sales, charlie, sent):
    AgentGroup.objects.filter(pk=support.pk).update(overflow_group=sales, overflow_after_minutes=5)
    conv = waiting(acme)
    Conversation.objects.filter(pk=conv.pk).update(
        group_entered_at=timezone.now() - timedelta(minutes=6)
    )
    online(charlie)
    assert services.conversations_overflow() == 1
    to_charlie = [e for g, e in sent if g == [events.agent_group(charlie.id)]]
    assert {e["type"] for e in to_charlie} >= {"conversation", "message", "flush"}


def test_a_colleague_cannot_take_a_conversation_by_transferring_it(acme, alice, bob):
    online(alice)
    conv = helpdesk_services.message_send_by_visitor(
        visitor=VisitorFactory(site=acme), client_id=uuid.uuid4(), body="hi"
    ).message.conversation
    with pytest.raises(services.NotAllowed):
        services.conversation_transfer(
            conversation_id=conv.id,
            by_name="Bob",
            actor=access.actor_for(bob.user),
            to_agent_id=bob.id,
        )
    assert Conversation.objects.get(pk=conv.pk).assigned_agent_id == alice.id
    support = conv.group
    support.managers.add(bob.user)  # a manager of the team may
    services.conversation_transfer(
        conversation_id=conv.id, by_name="Bob", actor=access.actor_for(bob.user), to_agent_id=bob.id
    )
    assert Conversation.objects.get(pk=conv.pk).assigned_agent_id == bob.id


def test_resolving_frees_room_for_the_next_waiting_conversation(acme, alice, sent):
    Agent.objects.filter(pk=alice.pk).update(capacity=1)
    online(alice)
    first = helpdesk_services.message_send_by_visitor(
        visitor=VisitorFactory(site=acme), client_id=uuid.uuid4(), body="one"
    ).message.conversation
    second = helpdesk_services.message_send_by_visitor(
        visitor=VisitorFactory(site=acme), client_id=uuid.uuid4(), body="two"
    ).message.conversation
    assert Conversation.objects.get(pk=second.pk).assigned_agent_id is None
    helpdesk_services.conversation_resolve(
        conversation_id=first.id, by_name="Alice", actor=access.actor_for(alice.user)
    )
    assert Conversation.objects.get(pk=second.pk).assigned_agent_id == alice.id  # at once
    resolved = Conversation.objects.get(pk=first.pk)
    assert resolved.status == "resolved" and resolved.waiting_since is None
    line = resolved.messages.get(sender="system", meta__kind="resolved")
    from helpdesk import payloads

    assert payloads.message(line, audience="visitor")["meta"] == {"kind": "resolved"}
    again = helpdesk_services.message_send_by_visitor(
        visitor=first.visitor, client_id=uuid.uuid4(), body="one more thing"
    )
    assert again.message.conversation_id != first.id  # a new conversation


def test_a_transfer_away_frees_room_at_once(acme, alice, bob):
    Agent.objects.filter(pk=alice.pk).update(capacity=1)
    online(alice, bob)
    mine = helpdesk_services.message_send_by_visitor(
        visitor=VisitorFactory(site=acme), client_id=uuid.uuid4(), body="a"
    ).message.conversation
    Agent.objects.filter(pk=bob.pk).update(capacity=0)
    queued = helpdesk_services.message_send_by_visitor(
        visitor=VisitorFactory(site=acme), client_id=uuid.uuid4(), body="b"
    ).message.conversation
    assert Conversation.objects.get(pk=queued.pk).assigned_agent_id is None
    services.conversation_transfer(
        conversation_id=mine.id,
        by_name="Alice",
        actor=access.actor_for(alice.user),
        to_agent_id=bob.id,
    )
    assert Conversation.objects.get(pk=queued.pk).assigned_agent_id == alice.id


def test_a_fresh_transfer_to_an_absent_agent_gets_its_grace(acme, alice, bob, settings):
    settings.ROUTING_GRACE_SECONDS = 300
    online(alice)
    conv = helpdesk_services.message_send_by_visitor(
        visitor=VisitorFactory(site=acme), client_id=uuid.uuid4(), body="x"
    ).message.conversation
    Agent.objects.filter(pk=bob.pk).update(last_seen_at=timezone.now() - timedelta(hours=3))
    services.conversation_transfer(conversation_id=conv.id, by_name="Manager", to_agent_id=bob.id)
    assert services.conversations_requeue_unattended() == 0
    later = timezone.now() + timedelta(minutes=6)
    assert services.conversations_requeue_unattended(now=later) == 1


def test_overflow_loops_and_unknown_time_zones_are_refused(support, sales):
    support.overflow_group, support.overflow_after_minutes = support, 5
    with pytest.raises(ValidationError):
        support.full_clean()
    AgentGroup.objects.filter(pk=sales.pk).update(overflow_group=support, overflow_after_minutes=5)
    support.overflow_group = sales
    with pytest.raises(ValidationError, match="loop"):
        support.full_clean()
    support.overflow_after_minutes = 0
    with pytest.raises(ValidationError):
        support.full_clean()
    with pytest.raises(ValidationError, match="time zone"):
        Schedule(name="typo", timezone="Asia/Beijing").full_clean()


def test_a_schedule_with_a_bad_time_zone_never_breaks_a_visitor(acme, support):
    bad = Schedule.objects.create(name="typo", timezone="Asia/Beijing")  # saved around validation
    AgentGroup.objects.filter(pk=support.pk).update(business_hours=bad)
    result = helpdesk_services.message_send_by_visitor(
        visitor=VisitorFactory(site=acme), client_id=uuid.uuid4(), body="hi"
    )
    assert result.created
    assert selectors.waiting_expectation(result.message.conversation) == {"next_open_at": None}


def test_the_admin_transfer_and_resolve_need_the_change_permission(client, acme, bob):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_conversation"))
    client.force_login(viewer)
    conv = waiting(acme)
    page = client.get("/admin/helpdesk/conversation/").content.decode()
    assert 'value="transfer"' not in page and 'value="resolve"' not in page
    client.post(
        "/admin/helpdesk/conversation/",
        {"action": "transfer", "_selected_action": [str(conv.pk)], "to_agent": str(bob.pk)},
    )
    assert Conversation.objects.get(pk=conv.pk).assigned_agent_id is None


def test_presence_broadcasts_cost_the_same_queries_for_any_number_of_sites(
    support, sales, alice, sent
):
    from django.test.utils import CaptureQueriesContext

    from routing.models import RoutingRule
    from tests.factories import SiteFactory

    alice.groups.add(sales)
    online(alice)
    counts = []
    for n in (1, 6):
        for _ in range(n):
            SiteFactory(default_group=support)
        with CaptureQueriesContext(connection) as q:
            services.agent_presence_changed(agent_id=alice.id)
        counts.append(len(q))
    assert counts[0] == counts[1], counts
    quiet = SiteFactory(default_group=sales)  # served through Sales, but Alice goes away
    RoutingRule.objects.create(name="to sales", group=sales, site=quiet)
    Agent.objects.filter(pk=alice.pk).update(status="away")
    sent.clear()
    services.agent_presence_changed(agent_id=alice.id)
    flags = {tuple(g): e["agents_online"] for g, e in sent}
    assert len(flags) == 8 and not any(flags.values())
