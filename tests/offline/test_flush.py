"""Flush on login: batches, idempotency, query counts, faults, concurrency."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk import events
from helpdesk.models import Attachment, Conversation, Message
from offline import services, tasks
from offline.models import OfflineMessage
from routing import presence
from tests.factories import ConversationFactory, VisitorFactory


def make_offline(site, conversations: int, per_conversation: int) -> list[Message]:
    """Stored offline messages, as visitors leave them while no agent is online."""
    messages = []
    for _ in range(conversations):
        conv = ConversationFactory(visitor=VisitorFactory(site=site), waiting_since=timezone.now())
        batch = [
            Message(
                conversation=conv, seq=i + 1, sender="visitor", body=f"m{i}", client_id=uuid.uuid4()
            )
            for i in range(per_conversation)
        ]
        Message.objects.bulk_create(batch)
        Conversation.objects.filter(pk=conv.pk).update(last_seq=per_conversation)
        messages += batch
    OfflineMessage.objects.bulk_create(
        OfflineMessage(
            message=m, conversation_id=m.conversation_id, audience="agent", created_at=m.created_at
        )
        for m in messages
    )
    return messages


@pytest.fixture
def sent(monkeypatch):
    """Events as they leave on commit, round-tripped through JSON like the layer does."""
    frames: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(
        events, "deliver", lambda groups, text: frames.append((groups, json.loads(text)))
    )
    return frames


def online(agent) -> None:
    presence.store().connect("agent", str(agent.id), f"test-{uuid.uuid4()}")


@pytest.mark.django_db(transaction=True)
def test_it_assigns_and_delivers_each_message_once_in_batches(acme, alice, sent, settings):
    settings.OFFLINE_FLUSH_BATCH = 4
    messages = make_offline(acme, conversations=3, per_conversation=3)
    online(alice)

    result = tasks.take_waiting_and_flush(agent_id=alice.id)

    assert (result.assigned, result.delivered, result.batches) == (3, 9, 3)
    flushes = [e for g, e in sent if e["type"] == "flush"]
    assert [len(f["messages"]) for f in flushes] == [4, 4, 1]
    assert [f["final"] for f in flushes] == [False, False, True]
    delivered = [m["id"] for f in flushes for m in f["messages"]]
    assert sorted(delivered) == sorted(str(m.id) for m in messages)
    assert len(set(delivered)) == 9
    assert all(g == [events.agent_group(alice.id)] for g, e in sent if e["type"] == "flush")

    sent.clear()
    again = tasks.take_waiting_and_flush(agent_id=alice.id)  # a retried task, a second tab
    assert again.delivered == 0
    assert [e["messages"] for g, e in sent] == [[]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("per_conversation", "frames", "chunks"),
    [(4, [2, 2, 2, 2], 2), (5, [2, 2, 2, 2, 2], 3)],
)
def test_chunks_follow_one_another_in_delivery_order_and_stop_when_nothing_is_left(
    acme, alice, sent, settings, monkeypatch, per_conversation, frames, chunks
):
    """A chunk (one claim, one transaction) tells whether more is waiting: a backlog that
    fills its chunks exactly ends with the last of them, not with an empty round."""
    settings.OFFLINE_FLUSH_CHUNK = 4
    settings.OFFLINE_FLUSH_BATCH = 2
    make_offline(acme, conversations=2, per_conversation=per_conversation)
    online(alice)
    claims = []
    claim = services._claim
    monkeypatch.setattr(services, "_claim", lambda *a: claims.append(claim(*a)) or claims[-1])

    result = tasks.take_waiting_and_flush(agent_id=alice.id)

    flushes = [e for g, e in sent if e["type"] == "flush"]
    assert [len(f["messages"]) for f in flushes] == frames
    assert [f["final"] for f in flushes] == [False] * (len(frames) - 1) + [True]
    assert [f["batch"] for f in flushes] == list(range(1, len(frames) + 1))
    assert (result.delivered, result.batches, len(claims)) == (
        8 + 2 * (per_conversation - 4),
        len(frames),
        chunks,
    )
    in_order = OfflineMessage.objects.order_by("created_at", "id").values_list("message", flat=True)
    assert [m["id"] for f in flushes for m in f["messages"]] == [str(i) for i in in_order]
    assert sum(len(f["conversations"]) for f in flushes) == 2  # each summary once


@pytest.mark.django_db(transaction=True)
def test_files_travel_with_their_own_message_only(acme, alice, sent):
    plain, with_file = make_offline(acme, conversations=1, per_conversation=2)
    Attachment.objects.create(
        conversation_id=with_file.conversation_id,
        message=with_file,
        uploaded_by="visitor",
        name="order.pdf",
        content_type="application/pdf",
        size=10,
        file="x/order.pdf",
    )
    online(alice)

    tasks.take_waiting_and_flush(agent_id=alice.id)

    [frame] = [e for g, e in sent if e["type"] == "flush"]
    shown = {m["id"]: m["attachments"] for m in frame["messages"]}
    assert shown[str(plain.id)] == []
    assert [a["name"] for a in shown[str(with_file.id)]] == ["order.pdf"]


@pytest.mark.django_db(transaction=True)
def test_it_delivers_nothing_to_an_agent_of_another_group(acme, alice, charlie, sent):
    make_offline(acme, conversations=2, per_conversation=2)
    online(charlie)
    result = tasks.take_waiting_and_flush(agent_id=charlie.id)
    assert (result.assigned, result.delivered) == (0, 0)
    assert OfflineMessage.objects.filter(state="pending").count() == 4


@pytest.mark.django_db(transaction=True)
def test_its_queries_do_not_grow_with_the_backlog(acme, alice, sent):
    online(alice)
    counts = []
    for conversations in (2, 40):  # 10 messages, then 200, each within one batch
        make_offline(acme, conversations=conversations, per_conversation=5)
        with CaptureQueriesContext(connection) as queries:
            result = tasks.take_waiting_and_flush(agent_id=alice.id)
        assert result.delivered == conversations * 5 and result.batches == 1
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 9


@pytest.mark.django_db(transaction=True)
def test_it_gives_each_waiting_conversation_to_exactly_one_of_two_agents_logging_in_at_once(
    acme, alice, bob, sent
):
    make_offline(acme, conversations=60, per_conversation=2)
    for agent in (alice, bob):
        agent.capacity = 30
        agent.save(update_fields=["capacity"])
        online(agent)
    barrier = threading.Barrier(2)
    results = {}

    def login(agent):
        barrier.wait()
        try:
            results[agent.id] = tasks.take_waiting_and_flush(agent_id=agent.id)
        finally:
            connection.close()

    threads = [threading.Thread(target=login, args=(a,)) for a in (alice, bob)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assigned = Conversation.objects.values_list("assigned_agent", flat=True)
    assert None not in assigned
    counts = {a: list(assigned).count(a) for a in (alice.id, bob.id)}
    assert counts == {alice.id: 30, bob.id: 30}  # each up to capacity, none twice
    by_agent: dict[str, list[str]] = {}
    for groups, event in sent:
        if event["type"] == "flush":
            by_agent.setdefault(groups[0], []).extend(m["id"] for m in event["messages"])
    everything = [i for ids in by_agent.values() for i in ids]
    assert len(everything) == len(set(everything)) == 120  # each message once, to its agent
    assert not OfflineMessage.objects.filter(state="pending").exists()


@pytest.mark.django_db(transaction=True)
def test_a_killed_socket_mid_flush_loses_nothing(acme, alice, sent, settings):
    """Rows are delivered once the frame is queued; the database still has everything.

    The agent whose socket died mid-flush reconnects and finds every conversation in the
    snapshot with its unread count, and every message by cursor.
    """
    settings.OFFLINE_FLUSH_BATCH = 3
    messages = make_offline(acme, conversations=2, per_conversation=4)
    online(alice)
    tasks.take_waiting_and_flush(agent_id=alice.id)  # frames "lost" on a dead socket
    from helpdesk import selectors

    inbox = selectors.agent_inbox(alice)
    assert sorted(c["unread"] for c in inbox) == [4, 4]
    seen = [m.id for c in inbox for m in selectors.messages_after(uuid.UUID(c["id"]), 0)]
    assert sorted(seen) == sorted(m.id for m in messages)


@pytest.mark.django_db(transaction=True)
def test_an_agent_no_longer_online_receives_no_assignment(acme, alice, sent):
    make_offline(acme, conversations=1, per_conversation=1)
    result = tasks.take_waiting_and_flush(agent_id=alice.id)  # not connected
    assert result.assigned == 0
    assert Conversation.objects.filter(assigned_agent__isnull=True).count() == 1
