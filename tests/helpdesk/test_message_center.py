"""The message center: conversation states, per-agent read state, filters with counts, tags,
search, keyset pagination, and a fixed query count.

People: Alice and Bob (Support agents), Mia (Support's manager, also an agent), Charlie
(Sales), and visitors Vic, Wendy and others.
"""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from helpdesk import access, payloads, selectors, services
from helpdesk.models import Conversation, Priority, Tag
from routing import services as routing_services
from tests.factories import AgentFactory, UserFactory, VisitorFactory
from tests.ws import agent_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mia(support):
    agent = AgentFactory(user=UserFactory(username="mia"), display_name="Mia", member_of=[support])
    support.managers.add(agent.user)
    return agent


def as_actor(agent):
    """The agent's standing, as the socket and the API read it for every frame."""
    return access.actor_for(agent.user)


def visitor_writes(site, body="hello", visitor=None, **fields):
    visitor = visitor or VisitorFactory(site=site, **fields)
    msg = services.message_send_by_visitor(
        visitor=visitor, client_id=uuid.uuid4(), body=body
    ).message
    return Conversation.objects.get(pk=msg.conversation_id)


def give(conv, agent):
    Conversation.objects.filter(pk=conv.pk).update(assigned_agent=agent)
    conv.refresh_from_db()
    return conv


def state_of(conv):
    return selectors.with_state(Conversation.objects.filter(pk=conv.pk)).get().state


def reply(agent, conv, body="on it"):
    services.message_send_by_agent(
        agent=agent, conversation=conv, client_id=uuid.uuid4(), body=body
    )
    conv.refresh_from_db()


def test_a_conversation_moves_unread_pending_replied_resolved(acme, alice):
    conv = visitor_writes(acme)  # nobody online: the offline notice is a system line
    assert conv.last_seq == 2 and conv.last_agent_seq == 0
    give(conv, alice)
    assert state_of(conv) == "unread"
    services.conversation_mark_read(agent=alice, conversation=conv, seq=conv.last_seq)
    assert state_of(conv) == "pending"  # read, not answered: the notice is no reply
    reply(alice, conv)
    assert state_of(conv) == "replied"
    conv = visitor_writes(acme, visitor=conv.visitor, body="thanks, and…")
    assert state_of(conv) == "unread"
    services.conversation_resolve(conversation_id=conv.pk, by_name="Alice")
    assert state_of(conv) == "resolved"


def test_a_manager_glancing_does_not_mark_it_read_for_its_agent(acme, alice, mia):
    conv = give(visitor_writes(acme), alice)
    services.conversation_mark_read(agent=mia, conversation=conv, seq=conv.last_seq)
    assert state_of(conv) == "unread"
    assert conv.read_cursors.get(agent=mia).seq == conv.last_seq  # Mia's own


def test_the_summary_sent_with_each_message_equals_a_fresh_read(acme, alice):
    """Every message carries its conversation's summary, built from the row in hand (no
    subqueries); it must say what the message center's query says, at every state."""
    conv = visitor_writes(acme)
    give(conv, alice)
    seen = []
    for step in ("visitor", "read", "agent", "visitor", "resolve"):
        if step == "visitor":
            conv.visitor.refresh_from_db()
            result = services.message_send_by_visitor(
                visitor=conv.visitor, client_id=uuid.uuid4(), body=f"more {len(seen)}"
            )
            conv = Conversation.objects.get(pk=conv.pk)
            in_hand = selectors.conversation_summary_after(conv, result.message)
        elif step == "agent":
            result = services.message_send_by_agent(
                agent=alice, conversation=conv, client_id=uuid.uuid4(), body="on it"
            )
            conv = Conversation.objects.get(pk=conv.pk)
            in_hand = selectors.conversation_summary_after(conv, result.message)
        elif step == "read":
            services.conversation_mark_read(agent=alice, conversation=conv, seq=conv.last_seq)
            conv = Conversation.objects.get(pk=conv.pk)
            continue
        else:
            Conversation.objects.filter(pk=conv.pk).update(status=Conversation.Status.RESOLVED)
            conv = Conversation.objects.get(pk=conv.pk)
            assert selectors.conversation_state(conv) == state_of(conv) == "resolved"
            break
        assert in_hand == selectors.conversation_summary(conv.pk)
        seen.append(in_hand["state"])
    assert seen == ["unread", "replied", "unread"]


def test_the_summaries_read_as_rows_say_what_the_summaries_of_instances_say(acme, alice):
    """The flush on login builds a thousand summaries at a time from plain rows, and the
    inbox at every connect; each must be what the ORM's summary says (visitor named, known
    by email or by nothing; tags; priority; every state; no message yet)."""
    named = give(visitor_writes(acme, name="Vic Vega"), alice)
    by_email = visitor_writes(acme, body="anyone?", email="wendy@example.com")
    nobody = visitor_writes(acme)
    reply(alice, named)
    vip, late = Tag.objects.create(name="vip", color="#ff0000"), Tag.objects.create(name="late")
    named.tags.add(vip, late)
    Conversation.objects.filter(pk=by_email.pk).update(
        priority=Priority.URGENT, snoozed_until="2999-01-01T00:00:00Z"
    )
    Conversation.objects.filter(pk=nobody.pk).update(status=Conversation.Status.RESOLVED)
    empty = Conversation.objects.create(site=acme, visitor=VisitorFactory(site=acme))
    unread = give(visitor_writes(acme, body="hello?"), alice)
    unread = visitor_writes(acme, body="hello again", visitor=unread.visitor)
    services.conversation_mark_read(agent=alice, conversation=unread, seq=1)  # the first only
    pending = give(visitor_writes(acme, body="still there?"), alice)
    services.conversation_mark_read(agent=alice, conversation=pending, seq=pending.last_seq)
    answered_later = give(visitor_writes(acme, body="and me"), alice)
    reply(alice, answered_later)
    ids = [named.pk, by_email.pk, nobody.pk, empty.pk, unread.pk, pending.pk, answered_later.pk]

    fresh = {str(i): selectors.conversation_summary(i) for i in ids}
    assert selectors.conversation_summaries(ids) == fresh  # PostgreSQL's own statement
    through_the_orm = [
        payloads.conversation_row(r) for r in selectors.summary_rows([str(i) for i in ids])
    ]
    assert {r["id"]: r for r in through_the_orm} == fresh  # what other databases read
    names = {i: s["visitor"]["name"] for i, s in fresh.items()}
    assert names[str(named.pk)] == "Vic Vega" and names[str(by_email.pk)] == "wendy@example.com"
    assert names[str(nobody.pk)] == f"Visitor {nobody.visitor_id.hex[:4]}"
    assert [t["name"] for s in fresh.values() for t in s["tags"]] == ["late", "vip"]
    assert fresh[str(unread.pk)]["unread"] == 1
    mine = Conversation.objects.filter(assigned_agent=alice, status=Conversation.Status.OPEN)
    inbox = [payloads.conversation(c) for c in selectors.inbox_order(selectors.with_summary(mine))]
    assert len(inbox) == 4 and selectors.agent_inbox(alice) == inbox  # the same, in order
    assert {s["state"] for s in fresh.values()} == {
        "unread",
        "pending",
        "replied",
        "snoozed",
        "resolved",
    }


def test_the_state_rule_in_python_is_the_state_rule_in_sql(acme, alice):
    conv = visitor_writes(acme)
    give(conv, alice)
    for last_visitor, read, last_agent, status in [
        (3, 1, 2, "open"),  # unread
        (3, 3, 2, "open"),  # pending
        (3, 3, 4, "open"),  # replied
        (0, 0, 0, "open"),  # nothing from the visitor yet: replied
        (3, 1, 2, "resolved"),
    ]:
        Conversation.objects.filter(pk=conv.pk).update(
            last_visitor_seq=last_visitor,
            agent_read_seq=read,
            last_agent_seq=last_agent,
            status=status,
        )
        conv = Conversation.objects.get(pk=conv.pk)
        assert selectors.conversation_state(conv) == state_of(conv)


def test_a_handover_takes_the_new_agents_own_read_state(acme, alice, bob):
    conv = give(visitor_writes(acme), alice)
    services.conversation_mark_read(agent=alice, conversation=conv, seq=conv.last_seq)
    assert state_of(conv) == "pending"
    routing_services.conversation_transfer(
        conversation_id=conv.pk, by_name="Alice", to_agent_id=bob.id, reason="billing"
    )
    assert state_of(conv) == "unread"  # Bob has not read it
    routing_services.conversation_transfer(
        conversation_id=conv.pk, by_name="Bob", to_agent_id=alice.id, reason="back"
    )
    assert state_of(conv) == "pending"  # Alice had


def test_filters_and_their_counts(acme, alice, bob, mia):
    unread = give(visitor_writes(acme, name="Una"), alice)
    pending = give(visitor_writes(acme, name="Pat"), alice)
    services.conversation_mark_read(agent=alice, conversation=pending, seq=pending.last_seq)
    replied = give(visitor_writes(acme, name="Rey"), alice)
    reply(alice, replied)
    resolved = give(visitor_writes(acme, name="Ros"), alice)
    services.conversation_resolve(conversation_id=resolved.pk, by_name="Alice")
    bobs = give(visitor_writes(acme, name="Bo"), bob)

    def names(**query):
        page = selectors.message_center(as_actor(alice), **query)
        return [c["visitor"]["name"] for c in page["conversations"]], page["counts"]

    mine, counts = names()
    assert sorted(mine) == ["Pat", "Rey", "Una"]
    assert counts["states"] == {
        "open": 3,
        "unread": 1,
        "pending": 1,
        "replied": 1,
        "snoozed": 0,
        "resolved": 1,
    }
    assert counts["scopes"] == {"mine": 3, "queue": 0, "groups": 4}
    assert names(state="unread")[0] == ["Una"]
    assert names(state="pending")[0] == ["Pat"]
    assert names(state="replied")[0] == ["Rey"]
    assert names(state="resolved")[0] == ["Ros"]
    assert sorted(names(scope="groups")[0]) == ["Bo", "Pat", "Rey", "Una"]
    with pytest.raises(selectors.BadQuery):
        selectors.message_center(as_actor(alice), scope="all")  # Alice manages nothing
    everything = selectors.message_center(as_actor(mia), scope="all")
    assert everything["counts"]["scopes"]["all"] == 4
    assert {c["id"] for c in everything["conversations"]} == {
        str(c.pk) for c in (unread, pending, replied, bobs)
    }


def test_tags_search_and_ids(acme, alice):
    vip = Tag.objects.create(name="VIP", color="#d97706")
    vic = give(visitor_writes(acme, name="Vic Tor", email="vic@example.com"), alice)
    wendy = give(visitor_writes(acme, name="Wendy"), alice)
    services.conversation_set_tags(agent=alice, conversation=wendy, tag_ids=[vip.pk])

    def ids(**query):
        return [
            c["id"] for c in selectors.message_center(as_actor(alice), **query)["conversations"]
        ]

    assert ids(tag=vip.pk) == [str(wendy.pk)]
    assert ids(q="vip") == [str(wendy.pk)]  # a tag's name
    assert ids(q="tor") == [str(vic.pk)]  # a word of a name
    assert ids(q="VIC@example.com") == [str(vic.pk)]  # an email, in any case
    assert ids(q="vic") == [str(vic.pk)]  # an email's local part (and a name's first word)
    assert ids(q="vic tor") == [str(vic.pk)]  # every word must match
    assert ids(q="vic wendy") == []
    assert ids(q="VIC@EXAMPLE") == []  # names and emails are encrypted: whole words only
    assert ids(q=str(vic.pk)) == [str(vic.pk)]
    assert ids(q=vic.pk.hex[:8]) == [str(vic.pk)]  # the short ID people read out
    assert ids(q="nobody") == []
    [summary] = selectors.message_center(as_actor(alice), tag=vip.pk)["conversations"]
    assert summary["tags"] == [{"id": vip.pk, "name": "VIP", "color": "#d97706"}]


def test_pages_follow_priority_then_waiting_time_without_gaps_or_repeats(acme, alice):
    made = []
    for i, priority in enumerate([1, 3, 1, 0, 2, 1, 3]):
        conv = give(visitor_writes(acme, name=f"V{i}"), alice)
        Conversation.objects.filter(pk=conv.pk).update(priority=priority)
        made.append((priority, i))
    seen, cursor = [], ""
    while True:
        page = selectors.message_center(as_actor(alice), cursor=cursor, limit=3)
        seen += [c["visitor"]["name"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = [f"V{i}" for _, i in sorted(made, key=lambda p: (-p[0], p[1]))]
    assert seen == expected
    assert Priority.URGENT == 3
    with pytest.raises(selectors.BadQuery):
        selectors.message_center(as_actor(alice), cursor="not-a-cursor")


def test_the_message_center_costs_the_same_queries_for_any_number_of_conversations(
    acme, alice, mia, django_assert_max_num_queries
):
    tag = Tag.objects.create(name="Refund")
    alice_now, mia_now = as_actor(alice), as_actor(mia)
    for n in (1, 40):
        for _ in range(n):
            conv = give(visitor_writes(acme), alice)
            conv.tags.add(tag)
        # the page, its tags, the state counts, the scope counts (who may see what is read
        # once per frame or request, before)
        with django_assert_max_num_queries(4):
            page = selectors.message_center(alice_now, q="refund", limit=100)
        assert len(page["conversations"]) >= n
        with django_assert_max_num_queries(4):
            selectors.message_center(mia_now, scope="all", state="unread", tag=tag.pk, limit=100)


async def test_the_socket_serves_pages_and_counts_and_refuses_what_it_should(acme, alice, bob):
    tag = await database_sync_to_async(Tag.objects.create)(name="Refund")
    conv = await database_sync_to_async(lambda: give(visitor_writes(acme, name="Vic"), alice))()
    tab1, inbox = await agent_socket(alice.user)
    tab2, _ = await agent_socket(alice.user)
    assert inbox["tags"] == [{"id": tag.pk, "name": "Refund", "color": "#64748b"}]
    assert inbox["manager"] is False
    await tab1.send({"type": "center.list", "state": "unread"})
    page = await tab1.expect("center.page")
    assert [c["id"] for c in page["conversations"]] == [str(conv.pk)]
    assert page["query"]["state"] == "unread" and page["counts"]["states"]["unread"] == 1

    await tab1.send(
        {"type": "conversation.tags", "conversation_id": str(conv.pk), "tag_ids": [tag.pk]}
    )
    for tab in (tab1, tab2):  # every tab hears
        changed = await tab.expect("conversation")
        assert changed["conversation"]["tags"][0]["name"] == "Refund"

    await tab1.send({"type": "conversation.read", "conversation_id": str(conv.pk), "seq": 99})
    for tab in (tab1, tab2):
        changed = await tab.expect("conversation")
        assert changed["conversation"]["state"] == "pending"
    await tab2.send({"type": "center.counts", "scope": "mine"})
    counts = await tab2.expect("center.counts")
    assert counts["states"]["unread"] == 0 and counts["states"]["pending"] == 1

    for frame, code in [
        ({"type": "center.list", "scope": "all"}, "invalid_message"),
        ({"type": "center.list", "state": "sleeping"}, "invalid_message"),
        ({"type": "center.list", "cursor": "zzz"}, "invalid_message"),
        (
            {"type": "conversation.tags", "conversation_id": str(conv.pk), "tag_ids": [999]},
            "not_found",
        ),
    ]:
        await tab1.send(frame)
        assert (await tab1.expect("error"))["code"] == code

    bob_tab, _ = await agent_socket(bob.user)  # Bob is in Support too: he may see and tag it
    other = await database_sync_to_async(lambda: give(visitor_writes(acme, name="Wendy"), bob))()
    charlie_conv = str(uuid.uuid4())
    await bob_tab.send(
        {"type": "conversation.tags", "conversation_id": charlie_conv, "tag_ids": []}
    )
    assert (await bob_tab.expect("error"))["code"] == "not_found"
    assert other.assigned_agent_id == bob.id
    for sock in (tab1, tab2, bob_tab):
        await sock.close()
