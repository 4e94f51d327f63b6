"""A visitor is made by their first write, not by a page load (helpdesk.services.visitors).

People: Vic writes; Pam only looks at the pages; Flo opens many tabs from one address.
"""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from helpdesk import services
from helpdesk.asgi import application
from helpdesk.models import Message, Visitor
from tests.ws import ORIGIN, Socket, send_message, start_visitor, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)

count_visitors = database_sync_to_async(Visitor.objects.count)
count_visitor_messages = database_sync_to_async(Message.objects.filter(sender="visitor").count)


@pytest.fixture
def tight(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "visitor_sessions": "2/3600"}


async def test_a_page_load_makes_no_visitor(acme):
    pam, welcome = await visitor_socket(acme.widget_key)
    assert (welcome["token"], welcome["visitor_id"], welcome["messages"]) == (None, None, [])
    await pam.send({"type": "typing", "active": True})  # dropped, not refused
    await pam.send({"type": "ping"})
    assert (await pam.recv())["type"] == "pong"
    await pam.close()
    assert await count_visitors() == 0


async def test_the_first_message_makes_one_visitor_and_its_token_comes_before_the_ack(acme):
    comm = WebsocketCommunicator(
        application, "/ws/visitor/", headers=[ORIGIN, (b"user-agent", b"VicBrowser/1")]
    )
    assert (await comm.connect())[0]
    vic = Socket(comm)
    await vic.send(
        {
            "type": "hello",
            "site_key": acme.widget_key,
            "token": None,
            "language": "fr",
            "page_url": "https://shop.example.com/cart",
        }
    )
    assert (await vic.expect("welcome"))["token"] is None
    client_id = str(uuid.uuid4())
    await vic.send({"type": "message.send", "client_id": client_id, "body": "Where is it?"})
    welcome = await vic.expect_any(("welcome", "message.ack"))
    assert welcome["type"] == "welcome", "the token comes before the ack"
    assert welcome["token"] and welcome["visitor_id"]
    assert client_id in [m["client_id"] for m in welcome["messages"]]
    ack = await vic.expect("message.ack", client_id=client_id)
    visitor = await Visitor.objects.aget()
    assert str(visitor.id) == welcome["visitor_id"] == await _visitor_of(ack)
    assert (visitor.language, visitor.page_url, visitor.user_agent) == (
        "fr",
        "https://shop.example.com/cart",
        "VicBrowser/1",
    )
    await send_message(vic, "and a second one")
    assert await count_visitors() == 1
    await vic.close()


@database_sync_to_async
def _visitor_of(ack):
    return str(Message.objects.get(pk=ack["message"]["id"]).conversation.visitor_id)


async def test_four_chats_from_six_page_loads_make_four_visitors(acme):
    sockets = [(await visitor_socket(acme.widget_key))[0] for _ in range(6)]
    for i, sock in enumerate(sockets[:4]):
        await send_message(sock, f"chat {i}")
    back, welcome = await visitor_socket(
        acme.widget_key, token=[f for f in sockets[0].frames if f["type"] == "welcome"][-1]["token"]
    )  # a returning visitor's page load: the same visitor
    assert welcome["visitor_id"] is not None
    assert await count_visitors() == 4
    for sock in [*sockets, back]:
        await sock.close()


async def test_a_resend_after_the_creating_write_is_stored_once(acme):
    vic, _ = await visitor_socket(acme.widget_key)
    client_id = str(uuid.uuid4())
    await vic.send({"type": "message.send", "client_id": client_id, "body": "only once"})
    token = (await vic.expect("welcome"))["token"]
    await vic.close()  # the connection drops: the ack never arrives
    again, welcome = await visitor_socket(acme.widget_key, token=token)
    assert welcome["visitor_id"] is not None
    ack = await send_message(again, "only once", client_id)  # the outbox sends it again
    assert ack["message"]["client_id"] == client_id
    assert (await count_visitors(), await count_visitor_messages()) == (1, 1)
    await again.close()


async def test_an_address_first_makes_the_visitor_too(acme):
    vic, _ = await visitor_socket(acme.widget_key)
    await vic.send({"type": "visitor.email", "email": "vic@example.com"})
    welcome = await vic.expect("welcome")
    saved = await vic.expect("visitor.email")
    assert saved["email"] == "vic@example.com" and welcome["token"]
    visitor = await Visitor.objects.aget()
    assert visitor.email == "vic@example.com" and str(visitor.id) == welcome["visitor_id"]
    await vic.close()


async def test_visitor_start_makes_the_visitor_for_an_upload(acme):
    vic, _ = await visitor_socket(acme.widget_key)
    welcome = await start_visitor(vic)
    assert welcome["token"] and await count_visitors() == 1
    await vic.send({"type": "visitor.start"})  # already made: nothing happens
    assert await vic.nothing()
    assert await count_visitors() == 1
    await vic.close()


async def test_new_visitors_are_counted_when_made_not_at_hello(tight, acme):
    tabs = [(await visitor_socket(acme.widget_key))[0] for _ in range(5)]  # hellos: uncounted
    await send_message(tabs[0], "one")
    await send_message(tabs[1], "two")
    client_id = str(uuid.uuid4())
    await tabs[2].send({"type": "message.send", "client_id": client_id, "body": "three"})
    error = await tabs[2].expect("error")
    assert error["code"] == "rate_limited" and error["client_id"] == client_id
    assert error["retry_after"] >= 1
    assert (await count_visitors(), await count_visitor_messages()) == (2, 2)
    await send_message(tabs[0], "the made ones write on")
    for tab in tabs:
        await tab.close()


def test_the_http_session_makes_nothing_until_a_write(acme):
    client = Client()
    body = {"site_key": acme.widget_key, "token": None, "channel": "app", "language": "de"}
    with CaptureQueriesContext(connection) as queries:
        session = client.post("/api/v1/visitor/session", body, content_type="application/json")
    assert session.status_code == 200 and session.json()["visitor_id"] is None
    assert not [q for q in queries if q["sql"].lstrip().upper().startswith("INSERT")]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {session.json()['token']}"}
    nothing = client.get("/api/v1/visitor/messages", **auth)
    assert nothing.status_code == 200 and nothing.json()["messages"] == []
    assert not Visitor.objects.exists()
    for text in ("first", "second"):
        sent = client.post(
            "/api/v1/visitor/messages",
            {"client_id": str(uuid.uuid4()), "body": text},
            content_type="application/json",
            **auth,
        )
        assert sent.status_code == 201
    visitor = Visitor.objects.get()
    assert (visitor.channel, visitor.language) == ("app", "de")
    resumed = client.post(
        "/api/v1/visitor/session",
        {**body, "token": session.json()["token"]},
        content_type="application/json",
    ).json()
    assert resumed["visitor_id"] == str(visitor.id) and resumed["token"] != session.json()["token"]


async def test_a_signed_in_user_made_on_one_device_is_the_same_on_the_other(acme):
    ivy = {"user_id": "cust-42", "user_hash": services.identity_hash(acme, "cust-42")}
    laptop, on_laptop = await visitor_socket(acme.widget_key, **ivy)
    phone, _ = await visitor_socket(acme.widget_key, **ivy)
    assert on_laptop["identified"] and on_laptop["visitor_id"] is None
    await send_message(laptop, "from the laptop")
    await send_message(phone, "from the phone")  # she exists already: found, not made
    [made] = [f for f in laptop.frames if f["type"] == "welcome"][-1:]
    assert [f for f in phone.frames if f["type"] == "welcome"][-1]["visitor_id"] == made[
        "visitor_id"
    ]
    assert await count_visitors() == 1
    ack = await send_message(laptop, "and again")
    live = await phone.expect("message")  # the phone hears her as her, live
    while live["message"]["id"] != ack["message"]["id"]:
        live = await phone.expect("message")
    for sock in (laptop, phone):
        await sock.close()


async def test_the_first_writes_answer_lost_with_the_connection_resumes_the_same_visitor(acme):
    """Vic's first message is stored, but its second welcome and ack are lost with the
    network. She says hello again with the pending token of her first welcome: she is the
    visitor that write made, and her resend is stored once."""
    first, welcome = await visitor_socket(acme.widget_key)
    assert welcome["token"] is None and welcome["pending_token"]
    client_id = str(uuid.uuid4())
    # Stored; what the server answers (the second welcome, the ack) never reaches her.
    stored = (await send_message(first, "Lost answer", client_id))["message"]
    await first.close()

    again, resumed = await visitor_socket(acme.widget_key, token=welcome["pending_token"])
    made = await database_sync_to_async(Visitor.objects.get)()
    assert resumed["visitor_id"] == str(made.pk) and resumed["token"]
    ack = await send_message(again, "Lost answer", client_id=client_id)
    assert ack["message"]["id"] == stored["id"]
    await again.close()
    assert await count_visitors() == 1 and await count_visitor_messages() == 1
