"""The defects found when the product was attacked from outside, each with its regression test
(the access matrix is in test_access_matrix.py; the pending offline message in
tests/routing/test_pending_follows_assignment.py).

People: Alice (Support, Acme's default group), Charlie (Sales, Globex's), Mia (manages Sales
only), Vic (a visitor of Acme), Ivy (a signed-in customer of Acme), Mallory (anyone).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.test import Client

from helpdesk import services
from helpdesk.asgi import application
from helpdesk.models import Conversation, Message, Visitor
from tests.factories import AgentFactory, SiteFactory, UserFactory, VisitorFactory
from tests.ws import (
    Socket,
    agent_socket,
    latest_welcome,
    send_message,
    visitor_socket,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def globex(sales):
    return SiteFactory(name="Globex", default_group=sales)


def writes(site, body="hello", **visitor):
    v = VisitorFactory(site=site, **visitor)
    msg = services.message_send_by_visitor(visitor=v, client_id=uuid.uuid4(), body=body).message
    return Conversation.objects.get(pk=msg.conversation_id)


# 1. A manager of one group listed every site's conversations with scope=all.


async def test_a_manager_of_one_group_lists_only_that_groups_conversations(
    acme, globex, sales, alice
):
    acmes = await database_sync_to_async(writes)(acme, name="Vic")
    globexs = await database_sync_to_async(writes)(globex, name="Gus")

    def make_mia():
        mia = AgentFactory(user=UserFactory(username="mia"), display_name="Mia")
        sales.managers.add(mia.user)
        return mia

    mia = await database_sync_to_async(make_mia)()
    sock, inbox = await agent_socket(mia.user)
    assert inbox["manager"] is True
    await sock.send({"type": "center.list", "scope": "all"})
    page = await sock.expect("center.page")
    assert [c["id"] for c in page["conversations"]] == [str(globexs.pk)]
    assert page["counts"]["scopes"]["all"] == 1
    client = Client()
    await database_sync_to_async(client.force_login)(mia.user)
    over_http = await database_sync_to_async(client.get)("/api/v1/agent/conversations?scope=all")
    assert [c["id"] for c in over_http.json()["conversations"]] == [str(globexs.pk)]
    assert str(acmes.pk) not in over_http.content.decode()
    await sock.close()


# 2. An agent outside the routed group (and without its skill) read and claimed it.


async def test_an_agent_outside_the_routed_group_neither_reads_nor_claims(acme, sales, alice):
    def routed_to_sales():
        conv = writes(acme, body="about my refund", name="Vic")
        Conversation.objects.filter(pk=conv.pk).update(group=sales)  # as a rule would
        return conv

    conv = await database_sync_to_async(routed_to_sales)()
    sock, _ = await agent_socket(alice.user)  # Support: the site's default group, not Sales
    await sock.send({"type": "conversation.open", "conversation_id": str(conv.pk)})
    assert (await sock.expect("error"))["code"] == "not_found"
    await sock.send(
        {
            "type": "message.send",
            "conversation_id": str(conv.pk),
            "client_id": str(uuid.uuid4()),
            "body": "mine now",
        }
    )
    assert (await sock.expect("error"))["code"] == "not_found"
    client = Client()
    await database_sync_to_async(client.force_login)(alice.user)
    path = f"/api/v1/agent/conversations/{conv.pk}/messages"
    assert (await database_sync_to_async(client.get)(path)).status_code == 404
    after = await Conversation.objects.aget(pk=conv.pk)
    assert after.assigned_agent_id is None and after.last_seq == conv.last_seq
    await sock.close()


def test_an_agent_of_the_group_without_the_skill_may_read_but_not_claim(acme, support, alice):
    from routing.models import Skill

    conv = writes(acme, body="a billing question")
    conv.required_skills.add(Skill.objects.create(name="billing"))
    client = Client()
    client.force_login(alice.user)
    path = f"/api/v1/agent/conversations/{conv.pk}/messages"
    assert client.get(path).status_code == 200
    sent = client.post(
        path, {"client_id": str(uuid.uuid4()), "body": "x"}, content_type="application/json"
    )
    assert sent.status_code == 403 and sent.json()["error"]["code"] == "not_assigned"
    assert "skills" in sent.json()["error"]["detail"]
    assert Conversation.objects.get(pk=conv.pk).assigned_agent_id is None


# 3. One visitor made the server send 30 confirmation emails to 30 addresses.


async def test_confirmation_emails_are_rate_limited_per_visitor_and_per_address(acme, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "visitor_emails": "3/3600"}
    sock, _ = await visitor_socket(acme.widget_key)
    for n in range(3):
        await sock.send({"type": "visitor.email", "email": f"stranger{n}@example.com"})
        assert (await sock.expect_any(("visitor.email", "error")))["type"] == "visitor.email"
    await sock.send({"type": "visitor.email", "email": "stranger99@example.com"})
    refused = await sock.expect("error")
    assert refused["code"] == "rate_limited" and refused["retry_after"] > 0
    visitor = await Visitor.objects.aget(pk=(await _visitor_id(sock)))
    assert visitor.email == "stranger2@example.com"  # the refused one changed nothing
    assert len(mail.outbox) == 3
    await sock.close()


async def _visitor_id(sock: Socket) -> str:
    return latest_welcome(sock)["visitor_id"]  # the first write's welcome names the visitor


def test_one_address_gets_few_confirmations_whoever_asks(client, acme, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "email_confirmations": "2/86400"}
    codes = []
    for _ in range(3):  # three visitors, one victim's address (in any case)
        token = _session(client, acme)["token"]
        sent = client.post(
            "/api/v1/visitor/email",
            {"email": "Victim@Example.com"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        codes.append(sent.status_code)
    assert codes == [202, 202, 429]
    assert len(mail.outbox) == 2


def _session(client, site, **extra):
    return client.post(
        "/api/v1/visitor/session",
        {"site_key": site.widget_key, "channel": "app", **extra},
        content_type="application/json",
    ).json()


# 4. Over HTTP an identified visitor's token alone read and wrote.


def test_an_identified_visitors_token_alone_opens_nothing_over_http(client, acme):
    proof = {"user_id": "cust-42", "user_hash": services.identity_hash(acme, "cust-42")}
    session = _session(client, acme, **proof)
    assert session["identified"] is True
    token = session["token"]
    bare = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    read = client.get("/api/v1/visitor/messages", **bare)
    assert read.status_code == 401 and read.json()["error"]["code"] == "identity_required"
    wrote = client.post(
        "/api/v1/visitor/messages",
        {"client_id": str(uuid.uuid4()), "body": "as Ivy"},
        content_type="application/json",
        **bare,
    )
    assert wrote.status_code == 401
    assert not Message.objects.exists()
    wrong = {**bare, "HTTP_X_HELPDESK_USER_ID": "cust-42", "HTTP_X_HELPDESK_USER_HASH": "0" * 64}
    assert client.get("/api/v1/visitor/messages", **wrong).status_code == 401
    proven = {
        **bare,
        "HTTP_X_HELPDESK_USER_ID": "cust-42",
        "HTTP_X_HELPDESK_USER_HASH": proof["user_hash"],
    }
    assert client.get("/api/v1/visitor/messages", **proven).status_code == 200
    sent = client.post(
        "/api/v1/visitor/messages",
        {"client_id": str(uuid.uuid4()), "body": "it is me"},
        content_type="application/json",
        **proven,
    )
    assert sent.status_code == 201


# 5. The inbound-email webhook took unsigned posts with no secret set.


def test_email_webhooks_refuse_unsigned_posts_when_no_secret_is_set(client, settings):
    settings.ANYMAIL = {}
    settings.INBOUND_EMAIL_DOMAIN = "reply.example.com"
    for path in ("/email/mailgun/inbound/", "/email/postmark/inbound/", "/email/mailgun/tracking/"):
        answer = client.post(path, {"recipient": "reply+x@reply.example.com", "body-plain": "hi"})
        assert answer.status_code == 400, path
    assert not Message.objects.exists()


def test_inbound_email_without_a_webhook_secret_does_not_start():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANYMAIL_", "INBOUND_EMAIL"))}
    env["INBOUND_EMAIL_DOMAIN"] = "reply.example.com"
    check = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert check.returncode != 0 and "ANYMAIL_WEBHOOK_SECRET" in check.stderr
    env["ANYMAIL_WEBHOOK_SECRET"] = "provider:a-long-random-secret"
    ok = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr


# 6. A malformed Origin port made the server fail (1011: reconnect for ever).


@pytest.mark.parametrize(
    "origin", [b"http://x.example:99999", b"http://x.example:port", b"http://["]
)
async def test_a_malformed_origin_is_refused_not_a_server_error(acme, origin):
    acme.allowed_origins = "https://shop.example.com"
    await database_sync_to_async(acme.save)()
    comm = WebsocketCommunicator(application, "/ws/visitor/", headers=[(b"origin", origin)])
    assert (await comm.connect())[0]
    await comm.send_to(text_data=json.dumps({"type": "hello", "site_key": acme.widget_key}))
    frame = json.loads(await comm.receive_from(timeout=5))
    assert frame["code"] == "forbidden_origin"
    assert (await comm.receive_output(timeout=5))["code"] == 4403
    assert not await Visitor.objects.aexists()


# 7. The HTTP API took a 1.1 MB body.


def test_the_http_api_refuses_a_body_over_64_kib_and_stores_nothing(client, acme):
    token = _session(client, acme)["token"]
    body = json.dumps({"client_id": str(uuid.uuid4()), "body": "short", "padding": "x" * 1_100_000})
    answer = client.post(
        "/api/v1/visitor/messages",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "frame_too_large"
    assert not Message.objects.exists()


# 8. The HTTP session lacked queue and read_seq.


async def test_the_http_session_says_what_the_welcome_says(acme):
    sock, _ = await visitor_socket(acme.widget_key)
    await send_message(sock, "anyone there?")  # nobody online: it waits, off hours
    first = latest_welcome(sock)
    await sock.close()
    _, welcome = await visitor_socket(acme.widget_key, first["token"])
    client = Client()
    session = await database_sync_to_async(client.post)(
        "/api/v1/visitor/session",
        {"site_key": acme.widget_key, "token": first["token"]},
        content_type="application/json",
    )
    http = session.json()
    for key in ("queue", "read_seq", "conversation_id", "agents_online", "site", "identified"):
        assert http[key] == welcome[key], key
    assert http["queue"] == {"next_open_at": None}
    assert set(welcome) - set(http) == {"type", "messages"}  # the socket adds the catch-up


# 10. Codes the code returns are in the docs' error table, and no others.


def test_the_error_table_lists_exactly_the_codes_the_code_can_return():
    import re
    from pathlib import Path

    from helpdesk import api

    root = Path(__file__).resolve().parents[2]
    sources = [
        p
        for app in ("helpdesk", "notifications", "routing", "offline")
        for p in (root / app).rglob("*.py")
        if "migrations" not in p.parts
    ]
    pattern = re.compile(
        r'(?:ApiError|ClientError|InvalidInput|NotRateable|Refused|send_error)\(\s*"([a-z_]+)"'
        r'|"code":\s*"([a-z_]+)"'
    )
    returned = {a or b for p in sources for a, b in pattern.findall(p.read_text(encoding="utf-8"))}
    returned |= set(api.DRF_CODES.values()) | {"internal_error", "rate_limited"}
    table = (root / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = table.split("## Errors", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))
    assert returned - documented == set(), "returned but not documented"
    assert documented - returned == set(), "documented but never returned"
