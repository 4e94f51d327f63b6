"""A returning visitor's hello: one statement from the event loop (helpdesk.services.resume),
the site as the process last read it (helpdesk.site_cache), the welcome the full path gives,
and a hello timer that closes only sockets that said nothing.

People: Vic, who comes back to Acme; Alice, who answered him while he was away; Ivy, a
signed-in customer, and the next person at her computer; Charlie in Sales.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from helpdesk import consumers, crypto, events, pgpool, services, site_cache, tokens
from helpdesk.asgi import application
from helpdesk.dbtrips import database_trip
from helpdesk.models import Agent, Attachment, Conversation, Message, Visitor
from helpdesk.services import resume
from offline.models import OfflineMessage
from routing import presence
from routing import selectors as routing_selectors
from routing.models import RoutingRule
from tests.factories import VisitorFactory
from tests.ws import ORIGIN, Socket, latest_welcome, send_message, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sites_read_afresh() -> Iterator[None]:
    site_cache.forget()
    yield
    site_cache.forget()


@database_sync_to_async
def vic_was_answered(acme: Any, alice: Agent, *, replies: int = 2) -> tuple[str, Conversation]:
    """Vic wrote; Alice, on duty, answered ``replies`` times after he had left. His token,
    and the conversation (seq 1 his, then her replies, each kept offline for him)."""
    presence.store().connect("agent", str(alice.id), "alice-tab")
    vic = VisitorFactory(site=acme)
    services.message_send_by_visitor(visitor=vic, client_id=uuid.uuid4(), body="my parcel?")
    conv = Conversation.objects.get(visitor=vic)
    assert conv.assigned_agent_id == alice.id
    for i in range(replies):
        services.message_send_by_agent(
            agent=alice, conversation=conv, client_id=uuid.uuid4(), body=f"reply {i + 1}"
        )
    conv.refresh_from_db()
    return tokens.issue(site_id=acme.id, visitor_id=vic.id), conv


def cursor(conv: Conversation, seq: int) -> dict[str, Any]:
    return {"conversation_id": str(conv.id), "seq": seq}


def pending_for_vic(conv: Conversation) -> list[int]:
    rows = OfflineMessage.objects.filter(conversation=conv, audience="visitor", state="pending")
    return sorted(rows.values_list("message__seq", flat=True))


async def test_a_returning_hello_is_one_statement_and_nothing_on_the_database_thread(
    acme, alice, statements
):
    token, conv = await vic_was_answered(acme, alice)
    warm, _ = await visitor_socket(acme.widget_key, token=token, cursor=cursor(conv, 3))
    statements.reset()

    back, welcome = await visitor_socket(acme.widget_key, token=token, cursor=cursor(conv, 1))

    assert (len(statements.hot), statements.django) == (1, [])
    assert [m["body"] for m in welcome["messages"]] == ["reply 1", "reply 2"]
    assert [m["agent_name"] for m in welcome["messages"]] == ["Alice", "Alice"]
    assert welcome["visitor_id"] == str(conv.visitor_id)
    assert welcome["agents_online"] is True  # Alice's tab
    assert tokens.read(welcome["token"]).visitor_id == conv.visitor_id
    assert await database_sync_to_async(pending_for_vic)(conv) == []  # delivered
    for sock in (warm, back):
        await sock.close()


async def test_the_first_hello_of_a_process_reads_the_site_once(acme, alice, statements):
    token, conv = await vic_was_answered(acme, alice)
    statements.reset()
    socks = await asyncio.gather(
        *(visitor_socket(acme.widget_key, token=token, cursor=cursor(conv, 3)) for _ in range(5))
    )
    site_reads = [sql for sql in statements.hot if sql == site_cache._statement()]
    assert (len(site_reads), len(statements.hot), statements.django) == (1, 6, [])
    for sock, _ in socks:
        await sock.close()


def without_token(welcome: dict[str, Any]) -> dict[str, Any]:
    """A welcome without what differs between two hellos: the fresh token, and the signed
    (timestamped) file URLs."""
    shown = {k: v for k, v in welcome.items() if k != "token"}
    for m in shown["messages"]:
        for f in m["attachments"]:
            f.pop("url"), f.pop("thumbnail_url")
    return shown


@pytest.mark.parametrize(
    "where",
    ["current", "behind", "none", "another conversation", "waiting in the queue", "nobody on"],
)
async def test_the_welcome_is_the_one_the_full_path_gives(acme, alice, where, monkeypatch):
    token, conv = await vic_was_answered(acme, alice)

    @database_sync_to_async
    def arrange() -> None:
        last = Message.objects.get(conversation=conv, seq=3)
        Attachment.objects.create(
            message=last,
            conversation=conv,
            agent=alice,
            uploaded_by="agent",
            name="label.png",
            content_type="image/png",
            size=10,
            file="x",
            thumbnail="y",
            width=4,
            height=4,
        )
        if where == "waiting in the queue":
            Conversation.objects.filter(pk=conv.pk).update(assigned_agent=None)
        if where == "nobody on":
            presence.store().clear()

    await arrange()
    given = {
        "current": cursor(conv, 3),
        "behind": cursor(conv, 1),
        "none": None,
        "another conversation": {"conversation_id": str(uuid.uuid4()), "seq": 7},
        "waiting in the queue": cursor(conv, 2),
        "nobody on": cursor(conv, 2),
    }[where]
    hello = {"cursor": given, "page_url": "https://shop.example/track", "language": "de"}
    _, fast = await visitor_socket(acme.widget_key, token=token, **hello)
    monkeypatch.setattr(pgpool, "available", lambda: False)
    _, full = await visitor_socket(acme.widget_key, token=token, **hello)
    assert without_token(fast) == without_token(full)
    assert fast["agents_online"] is (where not in ("nobody on",))
    assert (fast["queue"] is not None) is (where == "waiting in the queue")


async def test_more_than_the_limit_after_the_cursor_goes_the_full_way(
    acme, alice, settings, statements
):
    settings.VISITOR_HISTORY_LIMIT = 2
    token, conv = await vic_was_answered(acme, alice, replies=3)
    _, welcome = await visitor_socket(acme.widget_key, token=token, cursor=cursor(conv, 1))
    assert [m["seq"] for m in welcome["messages"]] == [2, 3, 4]  # all of them, as ever
    assert statements.django  # the full path answered
    assert await database_sync_to_async(pending_for_vic)(conv) == []


async def test_a_new_page_is_added_to_the_pages_seen_in_a_second_statement(acme, alice, statements):
    token, conv = await vic_was_answered(acme, alice)
    shop = "https://shop.example/"
    await visitor_socket(acme.widget_key, token=token, cursor=cursor(conv, 3), page_url=shop + "a")
    statements.reset()
    await visitor_socket(
        acme.widget_key, token=token, cursor=cursor(conv, 3), page_url=shop + "b", referrer=shop
    )
    assert (len(statements.hot), statements.django) == (2, [])
    statements.reset()
    await visitor_socket(acme.widget_key, token=token, cursor=cursor(conv, 3), page_url=shop + "b")
    assert (len(statements.hot), statements.django) == (1, [])  # still on it: nothing to add

    vic = await Visitor.objects.aget(pk=conv.visitor_id)
    assert [p["url"] for p in vic.pages] == [shop + "b", shop + "a"]
    assert (vic.page_url, vic.referrer) == (shop + "b", shop)  # where he first came from


async def test_ivy_is_resumed_with_the_proof_and_her_new_name_kept(acme):
    ivy = {"user_id": "cust-42", "user_hash": services.identity_hash(acme, "cust-42")}
    laptop, _ = await visitor_socket(acme.widget_key, name="Ivy", **ivy)
    await send_message(laptop, "my parcel is late")
    token = latest_welcome(laptop)["token"]
    phone, welcome = await visitor_socket(acme.widget_key, token=token, name="Ivy B.", **ivy)
    assert welcome["identified"] is True
    assert [m["body"] for m in welcome["messages"]][:1] == ["my parcel is late"]
    her = await Visitor.objects.aget(pk=welcome["visitor_id"])
    found = sorted(crypto.search_token(w) for w in crypto.search_terms("Ivy B.", ""))
    assert (her.name, her.search_index) == ("Ivy B.", " ".join(found))  # found by her new name
    for sock in (laptop, phone):
        await sock.close()


async def test_ivys_token_without_the_proof_hears_nothing_of_hers(acme, monkeypatch):
    """The next person at Ivy's computer: her token is still in the widget, her proof is
    not. The hello joins her group before it knows (subscribe, then read); what her group
    brings meanwhile must not reach this socket."""
    ivy = {"user_id": "cust-42", "user_hash": services.identity_hash(acme, "cust-42")}
    laptop, _ = await visitor_socket(acme.widget_key, **ivy)
    await send_message(laptop, "my address is 1 Main St")
    token = latest_welcome(laptop)["token"]
    ivy_id = uuid.UUID(latest_welcome(laptop)["visitor_id"])
    original = resume.visitor_resume

    async def meanwhile(**kwargs: Any) -> Any:
        # Ivy's group hears something while this hello is being answered: it reaches every
        # socket of hers in this process, and this one, subscribed first, holds it too.
        events.send_event_from_loop([events.visitor_group(ivy_id)], {"type": "probe", "n": 1})
        await laptop.expect("probe")
        return await original(**kwargs)

    monkeypatch.setattr(resume, "visitor_resume", meanwhile)
    stranger, welcome = await visitor_socket(acme.widget_key, token=token)
    assert (welcome["visitor_id"], welcome["identified"], welcome["messages"]) == (None, False, [])
    events.send_event_from_loop([events.site_group(acme.id)], {"type": "probe", "n": 2})
    assert await stranger.expect("probe") == {"type": "probe", "n": 2}  # Ivy's never came


async def hello_from(page: str, site_key: str, token: str) -> Socket:
    """A hello from a page of ``page``'s origin (the other tests' pages are our own, which
    every site allows)."""
    comm = WebsocketCommunicator(application, "/ws/visitor/", headers=[(b"origin", page.encode())])
    await comm.connect()
    sock = Socket(comm)
    await sock.send({"type": "hello", "site_key": site_key, "token": token})
    return sock


async def test_a_revoked_origin_is_refused_at_the_next_hello(acme, alice, statements):
    token, _ = await vic_was_answered(acme, alice)
    acme.allowed_origins = "https://shop.example"
    await acme.asave(update_fields=["allowed_origins"])
    shop = await hello_from("https://shop.example", acme.widget_key, token)
    await shop.expect("welcome")

    acme.allowed_origins = "https://new-shop.example"  # the old shop may chat no more
    await acme.asave(update_fields=["allowed_origins"])
    statements.reset()
    shop = await hello_from("https://shop.example", acme.widget_key, token)
    assert (await shop.expect("error"))["code"] == "forbidden_origin"
    assert (await shop.comm.receive_output(timeout=2))["code"] == 4403
    # This process's copy still allowed it: its statement found the site changed and wrote
    # nothing, and the full path refused from the site as stored.
    assert len(statements.hot) == 1 and statements.django
    vic = await Visitor.objects.aget(pk=tokens.read(token).visitor_id)
    assert vic.page_url == ""  # the refused hello told nothing

    new_shop = await hello_from("https://new-shop.example", acme.widget_key, token)
    await new_shop.expect("welcome")


async def test_a_rotated_identity_secret_proves_nothing_at_the_next_hello(acme):
    ivy = {"user_id": "cust-42", "user_hash": services.identity_hash(acme, "cust-42")}
    laptop, _ = await visitor_socket(acme.widget_key, **ivy)
    await send_message(laptop, "my parcel is late")
    token = latest_welcome(laptop)["token"]
    acme.identity_secret = "is_rotated"
    await acme.asave(update_fields=["identity_secret"])
    _, welcome = await visitor_socket(acme.widget_key, token=token, **ivy)  # the old proof
    assert (welcome["visitor_id"], welcome["identified"], welcome["messages"]) == (None, False, [])


async def test_the_welcome_shows_the_site_as_stored(acme, alice):
    token, conv = await vic_was_answered(acme, alice)
    await visitor_socket(acme.widget_key, token=token, cursor=cursor(conv, 3))
    acme.greeting, acme.color = "Hello from the new team", "#ff0000"
    await acme.asave(update_fields=["greeting", "color"])
    _, welcome = await visitor_socket(acme.widget_key, token=token, cursor=cursor(conv, 3))
    assert (welcome["site"]["greeting"], welcome["site"]["color"]) == (
        "Hello from the new team",
        "#ff0000",
    )


async def test_a_newly_allowed_origin_works_at_once(acme, alice):
    token, _ = await vic_was_answered(acme, alice)
    acme.allowed_origins = "https://shop.example"
    await acme.asave(update_fields=["allowed_origins"])
    shop = await hello_from("https://shop.example", acme.widget_key, token)
    await shop.expect("welcome")
    acme.allowed_origins = "https://shop.example https://new-shop.example"
    await acme.asave(update_fields=["allowed_origins"])
    new_shop = await hello_from("https://new-shop.example", acme.widget_key, token)
    await new_shop.expect("welcome")  # the full path read the site as stored


@asynccontextmanager
async def database_thread_busy() -> AsyncIterator[None]:
    """The process's one database thread held by other work until the block ends."""
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait(30)

    held = asyncio.ensure_future(database_trip(hold)())
    assert await asyncio.to_thread(started.wait, 10)
    try:
        yield
    finally:
        release.set()
        await held


async def test_a_returning_hello_is_answered_while_the_database_thread_is_busy(acme, alice):
    token, conv = await vic_was_answered(acme, alice)
    async with database_thread_busy():
        sock, welcome = await visitor_socket(acme.widget_key, token=token, cursor=cursor(conv, 1))
        assert [m["body"] for m in welcome["messages"]] == ["reply 1", "reply 2"]
    await sock.close()


@pytest.fixture
def quick_timer(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """A hello timeout of half a second; the event is set when a timer has fired."""
    fired = asyncio.Event()
    due = consumers.VisitorConsumer._hello_due

    def noted(self: Any) -> None:
        due(self)
        fired.set()

    monkeypatch.setattr(consumers, "HELLO_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(consumers.VisitorConsumer, "_hello_due", noted)
    return fired


async def test_a_socket_that_says_nothing_is_closed(acme, quick_timer):
    comm = WebsocketCommunicator(application, "/ws/visitor/", headers=[ORIGIN])
    await comm.connect()
    frame = await comm.receive_json_from(timeout=5)
    assert (frame["type"], frame["code"]) == ("error", "not_authenticated")
    assert (await comm.receive_output(timeout=2))["code"] == 4401


async def test_a_hello_said_in_time_is_answered_however_long_it_waits(acme, quick_timer):
    """A new visitor's hello goes to the database thread; held there past the timeout (a
    storm of hellos and messages), it is still answered, and the socket stays open."""
    async with database_thread_busy():
        comm = WebsocketCommunicator(application, "/ws/visitor/", headers=[ORIGIN])
        await comm.connect()
        sock = Socket(comm)
        await sock.send({"type": "hello", "site_key": acme.widget_key})
        await asyncio.wait_for(quick_timer.wait(), 5)  # the timer fired during the hello
    welcome = await sock.expect("welcome")
    assert welcome["visitor_id"] is None  # pending: nothing stored yet
    await sock.send({"type": "ping"})
    await sock.expect("pong")
    await sock.close()


@pytest.mark.parametrize(
    ("arrangement", "on_duty"),
    [
        ("Alice connected", True),
        ("Alice connected, away", False),
        ("Alice not connected", False),
        ("Alice connected, deactivated", False),
        ("Charlie connected", False),
        ("Charlie connected, a rule for Acme to Sales", True),
        ("Charlie connected, an inactive rule to Sales", False),
        ("Charlie connected, a rule for every site to Sales", True),
    ],
)
async def test_the_hello_tells_who_is_on_duty_as_routing_decides(
    acme, alice, charlie, sales, arrangement, on_duty
):
    token, conv = await vic_was_answered(acme, alice)

    @database_sync_to_async
    def arrange() -> bool:
        presence.store().clear()
        agent = charlie if arrangement.startswith("Charlie") else alice
        if "not connected" not in arrangement:
            presence.store().connect("agent", str(agent.id), "tab")
        if "away" in arrangement:
            Agent.objects.filter(pk=agent.pk).update(status=Agent.Status.AWAY)
        if "deactivated" in arrangement:
            type(agent.user).objects.filter(pk=agent.user_id).update(is_active=False)
        if "rule" in arrangement:
            RoutingRule.objects.create(
                name="to Sales",
                group=sales,
                site=None if "every site" in arrangement else acme,
                active="inactive" not in arrangement,
            )
        return routing_selectors.site_has_online_agent(acme.id)

    assert await arrange() is on_duty  # routing's own rule
    _, welcome = await visitor_socket(acme.widget_key, token=token, cursor=cursor(conv, 3))
    assert welcome["agents_online"] is on_duty


HELLOS = [
    {"site_key": "wk_1", "cursor": {"conversation_id": str(uuid.uuid4()), "seq": 3}},
    {"site_key": "wk_1", "cursor": {"conversation_id": "nope", "seq": 3}},
    {"site_key": "wk_2", "page_url": "not a url"},
    {"site_key": "wk_3", "attributes": {f"k{i}": "v" for i in range(21)}},
    {"cursor": {"seq": -1}},
    {"site_key": "wk_4", "channel": "fax", "token": None, "cursor": None},
    {"site_key": "wk_5", "language": "de", "name": "Vic", "user_id": "u1", "user_hash": "ab"},
]


def test_hello_validation_is_drfs_though_its_fields_are_made_once():
    """HelloIn shares one set of fields between frames (``FieldsOnce``): every frame, good or
    bad, in any order, is answered as a serializer making its own would answer it."""
    from rest_framework import serializers

    from helpdesk.validation import CursorIn, HelloIn, InvalidInput, check

    plain_cursor = type("PlainCursor", (serializers.Serializer,), dict(CursorIn._declared_fields))
    fields = dict(HelloIn._declared_fields) | {
        "cursor": plain_cursor(allow_null=True, required=False)
    }
    plain = type(
        "PlainHello",
        (serializers.Serializer,),
        fields | {"validate_attributes": HelloIn.validate_attributes},
    )

    def answer(serializer: Any, frame: dict[str, Any]) -> Any:
        try:
            return check(serializer, frame)
        except InvalidInput as exc:
            return exc.detail

    for frame in HELLOS + HELLOS[::-1]:
        assert answer(HelloIn, frame) == answer(plain, frame), frame
    assert isinstance(answer(HelloIn, HELLOS[0]), dict)
    assert answer(HelloIn, HELLOS[1]) == "cursor.conversation_id: Must be a valid UUID."
