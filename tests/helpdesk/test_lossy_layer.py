"""Old state + events == fresh state, even when the channel layer loses a fifth of its
sends: every client that resumes by cursor after a gap ends equal to a fresh load.

Alice has two tabs; a visitor writes 40 messages and Alice answers every third from one tab.
The layer (real Redis Pub/Sub) drops 20% of the events at random. Each client is modelled
the way the widget and the inbox work: de-duplicate by message id, keep a cursor (the
highest seq held with nothing missing), and resume from it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings

from helpdesk import payloads, selectors
from helpdesk.models import Message
from tests.ws import (
    Socket,
    agent_socket,
    latest_welcome,
    send_message,
    visitor_socket,
)

pytestmark = pytest.mark.django_db(transaction=True)


class Held:
    """What a client holds of one conversation."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.summary: dict[str, Any] | None = None

    def add(self, m: dict[str, Any]) -> None:
        self.by_id.setdefault(m["id"], m)

    def cursor(self) -> int:
        seqs = sorted(m["seq"] for m in self.by_id.values())
        top = 0
        for s in seqs:
            if s != top + 1:
                break
            top = s
        return top

    def view(self) -> list[tuple[str, int, str]]:
        return sorted((m["id"], m["seq"], m["body"]) for m in self.by_id.values())


async def quiet(sock: Socket) -> None:
    """Read until the socket has nothing more to say (what arrived is what arrived)."""
    while not await sock.nothing(timeout=0.3):
        await sock.recv()


def apply(sock: Socket, held: Held, conversation_id: str) -> None:
    """Everything this client received, applied as the widget and the inbox do."""
    for frame in sock.frames:
        message = frame.get("message")
        is_message = frame.get("type") in ("message", "message.ack") and message
        if is_message and message["conversation_id"] == conversation_id:
            held.add(message)
        for m in frame.get("messages") or []:
            if m["conversation_id"] == conversation_id:
                held.add(m)
        summary = frame.get("conversation")
        if isinstance(summary, dict) and summary.get("id") == conversation_id:
            held.summary = summary


@pytest.fixture
def lossy(settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tests.lossy.LossyRedisLayer",
            "CONFIG": {
                **django_settings.CHANNEL_LAYERS["default"].get("CONFIG", {}),
                "drop": 0.2,
                "seed": 20261124,
            },
        }
    }
    return get_channel_layer()


async def test_every_client_converges_on_a_fresh_load_despite_a_lossy_layer(lossy, acme, alice):
    tab1, _ = await agent_socket(alice.user)
    tab2, _ = await agent_socket(alice.user)
    visitor, welcome = await visitor_socket(acme.widget_key)
    first = await send_message(visitor, "message 0")
    conv_id = first["message"]["conversation_id"]
    seen = {name: Held() for name in ("visitor", "tab1", "tab2")}
    seen["visitor"].add(first["message"])
    for i in range(1, 40):
        ack = await send_message(visitor, f"message {i}")
        seen["visitor"].add(ack["message"])
        if i % 3 == 0:
            client_id = str(uuid.uuid4())
            await tab1.send(
                {
                    "type": "message.send",
                    "conversation_id": conv_id,
                    "client_id": client_id,
                    "body": f"reply {i}",
                }
            )
    for name, sock in (("visitor", visitor), ("tab1", tab1), ("tab2", tab2)):
        await quiet(sock)
        apply(sock, seen[name], conv_id)
    assert lossy.dropped > 5, "the layer must actually have lost events for this to prove it"
    fresh_visitor, fresh_agent, _ = await database_sync_to_async(fresh)(conv_id)
    before = [seen["tab1"].view(), seen["tab2"].view()]
    assert any(view != fresh_agent for view in before), "the losses left a client behind"

    # Sync as the clients do after a gap: the visitor says hello again with its cursor; each
    # inbox tab re-opens the conversation after its cursor.
    welcome = latest_welcome(visitor)  # the first write's, with the token
    await visitor.close()
    visitor, again = await visitor_socket(
        acme.widget_key,
        welcome["token"],
        {"conversation_id": conv_id, "seq": seen["visitor"].cursor()},
    )
    for m in again["messages"]:
        seen["visitor"].add(m)
    for name, tab in (("tab1", tab1), ("tab2", tab2)):
        await tab.send(
            {
                "type": "conversation.open",
                "conversation_id": conv_id,
                "after_seq": seen[name].cursor(),
            }
        )
        history = await tab.expect("history")
        for m in history["messages"]:
            seen[name].add(m)
        seen[name].summary = history["conversation"]

    fresh_visitor, fresh_agent, fresh_summary = await database_sync_to_async(fresh)(conv_id)
    assert seen["visitor"].view() == fresh_visitor
    assert seen["tab1"].view() == fresh_agent and seen["tab2"].view() == fresh_agent
    for name in ("tab1", "tab2"):
        assert seen[name].summary == fresh_summary
    assert len(fresh_agent) >= 40 + 13
    for sock in (visitor, tab1, tab2):
        await sock.close()


def fresh(conv_id: str):
    messages = list(Message.objects.filter(conversation_id=conv_id).select_related("agent"))
    view = lambda audience: sorted(  # noqa: E731
        (str(p["id"]), p["seq"], p["body"])
        for p in (payloads.message(m, audience=audience) for m in messages)
    )
    return view("visitor"), view("agent"), selectors.conversation_summary(uuid.UUID(conv_id))
