"""Who may do what, checked on every endpoint and socket action: two sites, two teams.

Acme's visitors are answered by Support (Alice); Globex's by Sales (Charlie). Vic chats on
Acme, Gus on Globex. Dave is signed in but neither agent nor manager; Eve is nobody.
"""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from helpdesk import services, tokens
from helpdesk.asgi import application
from helpdesk.models import Conversation
from tests.factories import SiteFactory, VisitorFactory
from tests.ws import Socket, agent_socket, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def globex(sales):
    return SiteFactory(name="Globex", default_group=sales)


@pytest.fixture
def world(acme, globex, alice, charlie):
    def chat(site, name):
        visitor = VisitorFactory(site=site, name=name)
        msg = services.message_send_by_visitor(
            visitor=visitor, client_id=uuid.uuid4(), body=f"{name} here"
        ).message
        conv = Conversation.objects.get(pk=msg.conversation_id)
        token = tokens.issue(site_id=site.id, visitor_id=visitor.id)
        return visitor, conv, token

    return {"vic": chat(acme, "Vic"), "gus": chat(globex, "Gus")}


AGENT_ACTIONS = [
    {"type": "conversation.open", "after_seq": 0},
    {"type": "conversation.read", "seq": 1},
    {"type": "message.send", "client_id": str(uuid.uuid4()), "body": "not yours"},
    {"type": "conversation.transfer", "to_group_id": 1, "reason": "x"},
    {"type": "conversation.resolve"},
    {"type": "conversation.tags", "tag_ids": []},
]


@pytest.mark.parametrize("action", AGENT_ACTIONS, ids=[a["type"] for a in AGENT_ACTIONS])
async def test_an_agent_cannot_touch_another_teams_conversation(world, charlie, action):
    _, vics, _ = world["vic"]
    sock, _ = await agent_socket(charlie.user)
    await sock.send({**action, "conversation_id": str(vics.pk)})
    error = await sock.expect("error")
    assert error["code"] == "not_found"
    conv = await Conversation.objects.aget(pk=vics.pk)
    assert (conv.status, conv.last_seq, conv.agent_read_seq) == ("open", vics.last_seq, 0)
    await sock.close()


def test_the_agent_http_api_keeps_teams_apart(world, charlie, dave):
    _, vics, _ = world["vic"]
    path = f"/api/v1/agent/conversations/{vics.pk}/messages"
    as_charlie = Client()
    as_charlie.force_login(charlie.user)
    assert as_charlie.get(path).status_code == 404
    sent = as_charlie.post(
        path, {"client_id": str(uuid.uuid4()), "body": "x"}, content_type="application/json"
    )
    assert sent.status_code == 404
    listed = as_charlie.get("/api/v1/agent/conversations?scope=groups").json()
    assert [c["visitor"]["name"] for c in listed["conversations"]] == ["Gus"]  # his team's only
    assert Client().get(path).status_code == 403  # nobody signed in
    as_dave = Client()
    as_dave.force_login(dave)
    assert as_dave.get(path).status_code == 403
    assert as_dave.get("/api/v1/agent/conversations").status_code == 403


def test_a_visitor_token_opens_only_its_own_visitor_on_its_own_site(world, acme, globex):
    _, vics, vic_token = world["vic"]
    _, guss, gus_token = world["gus"]
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {vic_token}"}
    # Gus's conversation, through Vic's token: catch-up gives Vic's own, history refuses.
    caught = client.get(f"/api/v1/visitor/messages?conversation_id={guss.pk}&after_seq=0", **auth)
    assert caught.json()["conversation_id"] == str(vics.pk)
    assert all("Gus" not in m["body"] for m in caught.json()["messages"])
    older = client.get(f"/api/v1/visitor/messages?conversation_id={guss.pk}&before_seq=5", **auth)
    assert older.status_code == 404
    receipt = client.post(
        "/api/v1/visitor/receipts",
        {"conversation_id": str(guss.pk), "delivered_seq": 1},
        content_type="application/json",
        **auth,
    )
    assert receipt.status_code == 404
    # Vic's token on Globex's key: refused.
    wrong_site = client.post(
        "/api/v1/visitor/session",
        {"site_key": globex.widget_key, "token": vic_token},
        content_type="application/json",
    )
    assert wrong_site.status_code == 401 and wrong_site.json()["error"]["code"] == "invalid_token"
    forged = client.get("/api/v1/visitor/messages", HTTP_AUTHORIZATION=f"Bearer {gus_token}x")
    assert forged.status_code == 401
    assert client.get("/api/v1/visitor/messages").status_code in (401, 403)


async def test_a_visitor_socket_from_a_page_the_site_did_not_allow_is_refused(acme):
    acme.allowed_origins = "https://shop.example.com\nhttps://m.shop.example.com:8443"
    await database_sync_to_async(acme.save)()
    for origin, allowed in [
        (b"https://shop.example.com", True),
        (b"https://m.shop.example.com:8443", True),
        (b"http://localhost", True),  # the widget frame, served by us
        (None, True),  # an app or mini-program sends no Origin
        (b"https://evil.example", False),
        (b"https://shop.example.com.evil.example", False),
        (b"null", False),
    ]:
        headers = [(b"origin", origin)] if origin else []
        comm = WebsocketCommunicator(application, "/ws/visitor/", headers=headers)
        assert (await comm.connect())[0]
        sock = Socket(comm)
        await sock.send({"type": "hello", "site_key": acme.widget_key, "token": None})
        frame = await sock.recv()
        if allowed:
            assert frame["type"] == "welcome", origin
        else:
            assert frame == {
                "type": "error",
                "code": "forbidden_origin",
                "detail": "This site does not allow chat from this page.",
            }
            assert (await comm.receive_output())["code"] == 4403
        await comm.disconnect()


async def test_without_an_allowlist_any_page_may_chat(acme):
    sock, _ = await visitor_socket(acme.widget_key)  # fails unless welcomed
    await sock.close()


def test_only_allowed_sites_may_frame_the_widget_and_nobody_frames_the_rest(client, acme, alice):
    acme.allowed_origins = "https://shop.example.com"
    acme.save()
    widget = client.get(f"/widget/?site_key={acme.widget_key}")
    csp = widget["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://shop.example.com" in csp
    assert "script-src 'self'" in csp and "X-Frame-Options" not in widget
    client.force_login(alice.user)
    for path in ("/", "/inbox/", "/notifications/", "/admin/", "/demo/", "/accounts/login/"):
        page = client.get(path, follow=True)
        assert "frame-ancestors 'none'" in page["Content-Security-Policy"], path
        assert (
            "'unsafe-inline'"
            not in page["Content-Security-Policy"].split("script-src")[1].split(";")[0]
        )


def test_a_manager_sees_only_their_own_sites_in_the_back_office(world, support, sales):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    mia = UserFactory(username="mia", is_staff=True)
    mia.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_conversation", "view_visitor"])
    )
    support.managers.add(mia)
    client = Client()
    client.force_login(mia)
    _, vics, _ = world["vic"]
    _, guss, _ = world["gus"]
    listing = client.get("/admin/helpdesk/conversation/").content.decode()
    assert str(vics.pk)[:8] in listing and str(guss.pk)[:8] not in listing
    assert client.get(f"/admin/helpdesk/conversation/{vics.pk}/change/").status_code == 200
    assert client.get(f"/admin/helpdesk/conversation/{guss.pk}/change/").status_code == 302
    visitors = client.get("/admin/helpdesk/visitor/").content.decode()
    assert "Vic" in visitors and "Gus" not in visitors
