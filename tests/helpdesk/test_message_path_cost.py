"""What one message costs in round trips: SQL statements and Redis commands per visitor
message and per agent reply, on the path the sockets take (rate limit, store, presence,
summary). Asserted exactly, so that a query added to the hot path is a decision someone
makes here, not a slow drift (docs/performance.md, "The message path")."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis.connection
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk import access, events, ratelimit, selectors, services
from helpdesk.models import Conversation, Tag
from routing import presence
from tests.conversations import assign
from tests.factories import VisitorFactory

pytestmark = pytest.mark.django_db


@contextmanager
def redis_trips() -> Iterator[list[Any]]:
    """Every packet of commands sent to Redis (a pipeline or a script is one)."""
    sent: list[Any] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        sent.append(command)
        return original(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        redis.connection.AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


@pytest.fixture
def summaries(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The conversation summaries the message events carry to the agents."""
    sent: list[dict[str, Any]] = []

    def record(groups: Any, event: dict[str, Any]) -> None:
        if "conversation" in event:
            sent.append(event["conversation"])

    monkeypatch.setattr(events, "send_event_on_commit", record)
    return sent


def visitor_sends(visitor: Any, body: str) -> Any:
    """What the visitor socket's message.send does in its one trip to the database thread."""
    ratelimit.hit("visitor_messages", visitor.id.hex, what="messages")
    return services.message_send_by_visitor(visitor=visitor, client_id=uuid.uuid4(), body=body)


@pytest.fixture
def handled(acme: Any, alice: Any) -> Any:
    """A conversation Alice handles, with a tag, a visitor who has written once, and both
    of them online."""
    visitor = VisitorFactory(site=acme)
    first = visitor_sends(visitor, "hello")
    conv = assign(Conversation.objects.get(pk=first.message.conversation_id), alice)
    conv.tags.add(Tag.objects.create(name="Refund"))
    presence.store().connect("agent", str(alice.id), "agent-socket")
    presence.store().connect("visitor", visitor.id.hex, "visitor-socket")
    return visitor, conv


def test_a_visitor_message_costs_its_statements_and_redis_trips(handled, alice, summaries):
    visitor, conv = handled
    visitor_sends(visitor, "warm")  # the unread count has something to count
    with CaptureQueriesContext(connection) as queries, redis_trips() as trips:
        result = visitor_sends(visitor, "where is my parcel?")
    assert result.created
    shown = "\n".join(q["sql"][:150] for q in queries.captured_queries)
    assert len(queries) == 7, shown
    assert len(trips) == 2, trips  # the rate limit (one MULTI), the agent's presence
    # Built from the rows in hand, the summary is what the full read says.
    assert summaries[-1] == selectors.conversation_summary(conv.id)
    assert summaries[-1]["unread"] == 3 and summaries[-1]["tags"][0]["name"] == "Refund"


def test_an_agent_reply_costs_its_statements_and_redis_trips(handled, alice, summaries):
    _, conv = handled
    actor = access.actor_for(alice.user)
    services.message_send_by_agent(
        agent=alice, actor=actor, conversation=conv, client_id=uuid.uuid4(), body="first"
    )
    with CaptureQueriesContext(connection) as queries, redis_trips() as trips:
        result = services.message_send_by_agent(
            agent=alice, actor=actor, conversation=conv, client_id=uuid.uuid4(), body="on its way"
        )
    assert result.created
    shown = "\n".join(q["sql"][:150] for q in queries.captured_queries)
    assert len(queries) == 7, shown
    assert len(trips) == 1, trips  # the visitor's presence
    assert summaries[-1] == selectors.conversation_summary(conv.id)
    assert summaries[-1]["unread"] == 0 and summaries[-1]["tags"][0]["name"] == "Refund"


def test_a_reply_that_claims_a_waiting_conversation_tells_the_truth(acme, bob, summaries):
    """Claimed by replying: the summary derived in hand still equals the full read."""
    visitor = VisitorFactory(site=acme)
    visitor_sends(visitor, "is anyone there?")  # nobody online: it waits, unassigned
    visitor_sends(visitor, "hello?")
    conv = Conversation.objects.get(visitor=visitor)
    assert conv.assigned_agent_id is None
    assert summaries == []  # no agent to tell yet
    with CaptureQueriesContext(connection) as queries:
        services.message_send_by_agent(
            agent=bob, conversation=conv, client_id=uuid.uuid4(), body="I can help"
        )
    assert summaries[-1] == selectors.conversation_summary(conv.id)
    assert summaries[-1]["assigned_agent_id"] == bob.id and summaries[-1]["unread"] == 0
    assert len(queries) <= 12, "\n".join(q["sql"][:150] for q in queries.captured_queries)


@pytest.mark.django_db(transaction=True)
async def test_each_message_frame_makes_its_fewest_trips_to_the_database_thread(
    acme, alice, monkeypatch
):
    """The process's one database thread is every socket's queue: a visitor's next message
    makes no trip (one statement from the event loop, test_hot_path.py), an agent's reply
    two (the frame's authorisation, then see-and-store)."""
    from helpdesk import consumers
    from tests.ws import agent_socket, send_message, visitor_socket

    visitor, _ = await visitor_socket(acme.widget_key)
    agent, _ = await agent_socket(alice.user)
    first = await send_message(visitor, "hello")
    trips: list[str] = []
    original = consumers.db

    def counting(func: Any) -> Any:
        trips.append(getattr(func, "__name__", repr(func)))
        return original(func)

    monkeypatch.setattr(consumers, "db", counting)
    await send_message(visitor, "anyone?")
    assert len(trips) == 0, trips
    trips.clear()
    await agent.send(
        {
            "type": "message.send",
            "conversation_id": first["message"]["conversation_id"],
            "client_id": str(uuid.uuid4()),
            "body": "here",
        }
    )
    await agent.expect("message.ack")
    assert len(trips) == 2, trips
    await visitor.close()
    await agent.close()
