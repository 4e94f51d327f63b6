"""A fuzz of the visitor socket protocol (hypothesis): whatever JSON a client sends after
hello, the server answers with a well-formed frame, never an internal error, keeps the socket
open (or closes it with a documented code), and stores only well-formed messages."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk.models import Message
from tests.ws import visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)

TYPES = ["message.send", "hello", "receipt", "visitor.email", "ping", "nope", ""]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=300),
    st.uuids().map(str),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
frames = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={
        "client_id": values,
        "body": values,
        "conversation_id": values,
        "delivered_seq": values,
        "seen_seq": values,
        "email": values,
        "site_key": values,
        "token": values,
        "cursor": values,
    },
)
KNOWN = {"message.ack", "error", "pong", "visitor.email", "message", "presence"}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(frames | st.text(min_size=1, max_size=50), min_size=1, max_size=6))
async def test_any_frame_gets_a_well_formed_answer_and_no_server_error(acme, batch):
    sock, _ = await visitor_socket(acme.widget_key)
    for frame in batch:
        await sock.send(frame if isinstance(frame, str) else json.dumps(frame))
        while not await sock.nothing(timeout=0.05):
            reply = await sock.recv()
            assert reply["type"] in KNOWN, reply
            assert reply.get("code") != "internal_error", (frame, reply)
    await sock.send({"type": "ping"})
    await sock.expect("pong")  # the socket still serves (expect fails if no pong comes)
    for message in await database_sync_to_async(list)(Message.objects.filter(sender="visitor")):
        assert 0 < len(message.body.strip()) <= 4000
    await sock.close()
