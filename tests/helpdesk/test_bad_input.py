"""Bad input from the docs/security.md table that no other test sends: a replayed client ID
with another body, bytes that are not UTF-8, oversized names and attributes."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from helpdesk.models import Message, Visitor
from tests.ws import send_message, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)
CLIENT_ID = "6f1c2f7e-3a1e-4d8b-9c55-2c9b1d3e4f50"


async def test_a_replayed_client_id_with_another_body_returns_the_original(acme):
    sock, _ = await visitor_socket(acme.widget_key)
    first = await send_message(sock, "I want a refund", CLIENT_ID)
    replay = await send_message(sock, "I want everything for free", CLIENT_ID)
    assert replay["message"] == first["message"]
    bodies = await database_sync_to_async(
        lambda: [m.body for m in Message.objects.filter(sender="visitor")]
    )()
    assert bodies == ["I want a refund"]
    await sock.close()


async def test_bytes_that_are_not_utf8_are_refused_and_the_socket_serves_on(acme):
    sock, _ = await visitor_socket(acme.widget_key)
    await sock.comm.send_to(bytes_data=b'{"type": "ping", "x": "\xff\xfe"}')
    frame = await sock.recv()
    assert frame["type"] in ("pong", "error")  # replaced characters: a valid ping, or refused
    await sock.comm.send_to(bytes_data=b"\xff\xfe\xfd")
    assert (await sock.expect("error"))["code"] == "invalid_json"
    await send_message(sock, "still here")
    await sock.close()


def test_the_http_api_refuses_a_body_that_is_not_utf8(acme):
    response = Client().generic(
        "POST", "/api/v1/visitor/session", b'{"site_key": "\xff"}', "application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"attributes": {f"k{i}": "v" for i in range(21)}}, "attributes"),
        ({"attributes": {"k" * 51: "v"}}, "attributes"),
        ({"attributes": {"plan": "x" * 201}}, "attributes"),
        ({"attributes": {"plan": {"nested": "no"}}}, "attributes"),
        ({"name": "x" * 101}, "name"),
        ({"page_url": "javascript:alert(1)"}, "page_url"),
        ({"language": "x" * 36}, "language"),
    ],
)
def test_oversized_or_odd_visitor_details_are_refused_and_create_nothing(acme, extra, field):
    body = {"site_key": acme.widget_key, "token": None} | extra
    response = Client().post(
        "/api/v1/visitor/session", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_message" and error["detail"].startswith(field)
    assert not Visitor.objects.exists()
