"""The JSON-over-HTTP API: visitors by bearer token, agents by session."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from helpdesk import tokens
from helpdesk.models import Message, Visitor
from tests.factories import MessageFactory, SiteFactory, VisitorFactory

pytestmark = pytest.mark.django_db


def start(client: Client, site_key: str, token: str | None = None):
    return client.post(
        "/api/v1/visitor/session",
        {"site_key": site_key, "token": token, "channel": "app"},
        content_type="application/json",
    )


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_it_runs_a_whole_visitor_session_over_http(client, acme, alice):
    session = start(client, acme.widget_key).json()
    assert session["agents_online"] is False and session["conversation_id"] is None
    assert session["visitor_id"] is None and not Visitor.objects.exists()  # until a write
    client_id = str(uuid.uuid4())
    sent = client.post(
        "/api/v1/visitor/messages",
        {"client_id": client_id, "body": "from the app"},
        content_type="application/json",
        **bearer(session["token"]),
    )
    assert sent.status_code == 201
    again = client.post(
        "/api/v1/visitor/messages",
        {"client_id": client_id, "body": "from the app"},
        content_type="application/json",
        **bearer(session["token"]),
    )
    assert again.status_code == 200 and again.json() == sent.json()
    message = sent.json()["message"]
    history = client.get(
        f"/api/v1/visitor/messages?conversation_id={message['conversation_id']}&after_seq=0",
        **bearer(session["token"]),
    ).json()
    assert [m["id"] for m in history["messages"] if m["sender"] == "visitor"] == [message["id"]]
    assert history["messages"][1]["meta"]["kind"] == "offline"
    resumed = start(client, acme.widget_key, session["token"]).json()
    assert resumed["visitor_id"] == str(Visitor.objects.get().id)
    assert resumed["conversation_id"] == message["conversation_id"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"client_id": "x", "body": "hi"}, "invalid_message"),
        ({"client_id": str(uuid.uuid4()), "body": ""}, "empty_body"),
        ({"client_id": str(uuid.uuid4()), "body": "y" * 4001}, "body_too_long"),
        ("{broken", "invalid_json"),
    ],
)
def test_it_refuses_bad_messages_with_a_clear_error(client, acme, body, code):
    token = start(client, acme.widget_key).json()["token"]
    response = client.post(
        "/api/v1/visitor/messages", body, content_type="application/json", **bearer(token)
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert Message.objects.count() == 0


def test_it_refuses_forged_expired_and_foreign_tokens(client, acme, settings):
    visitor = VisitorFactory(site=acme)
    other = SiteFactory(name="Other")
    token = tokens.issue(site_id=acme.id, visitor_id=visitor.id)
    assert start(client, other.widget_key, token).json()["error"]["code"] == "invalid_token"
    response = client.get("/api/v1/visitor/messages", **bearer(token + "x"))
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"
    assert client.get("/api/v1/visitor/messages").status_code == 401
    assert start(client, "wk_unknown").status_code == 404
    settings.VISITOR_TOKEN_MAX_AGE_DAYS = 0
    assert client.get("/api/v1/visitor/messages", **bearer(token)).status_code == 401


def test_it_lets_an_agent_list_read_and_reply(client, acme, alice):
    message = MessageFactory(conversation__visitor__site=acme, conversation__assigned_agent=alice)
    conversation = message.conversation
    conversation.last_seq = 1
    conversation.save(update_fields=["last_seq"])
    client.force_login(alice.user)
    [summary] = client.get("/api/v1/agent/conversations").json()["conversations"]
    assert summary["unread"] == 1
    history = client.get(
        f"/api/v1/agent/conversations/{conversation.id}/messages?after_seq=0"
    ).json()
    assert [m["body"] for m in history["messages"]] == [message.body]
    reply = client.post(
        f"/api/v1/agent/conversations/{conversation.id}/messages",
        {"client_id": str(uuid.uuid4()), "body": "on it"},
        content_type="application/json",
    )
    assert reply.status_code == 201 and reply.json()["message"]["agent_name"] == "Alice"


def test_it_keeps_agents_out_of_other_groups_conversations(client, acme, charlie, dave):
    message = MessageFactory(conversation__visitor__site=acme)
    url = f"/api/v1/agent/conversations/{message.conversation_id}/messages"
    assert client.get(url).status_code in (401, 403)
    client.force_login(dave)
    assert client.get(url).status_code == 403
    client.force_login(charlie.user)
    response = client.get(url)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = client.post(
        url, {"client_id": str(uuid.uuid4()), "body": "x"}, content_type="application/json"
    )
    assert response.status_code == 404
    assert Message.objects.count() == 1


def test_the_inbox_costs_the_same_queries_for_any_number_of_conversations(
    client, acme, alice, django_assert_max_num_queries
):
    client.force_login(alice.user)
    for n in (1, 30):
        for _ in range(n):
            MessageFactory(conversation__visitor__site=acme, conversation__assigned_agent=alice)
        with django_assert_max_num_queries(7):
            page = client.get("/api/v1/agent/conversations")
        assert len(page.json()["conversations"]) >= n


@pytest.mark.parametrize(
    "query",
    [
        "after_seq=%C2%B2&conversation_id=6f1c2f7e-3a1e-4d8b-9c55-2c9b1d3e4f50",
        "conversation_id=x&after_seq=1",
    ],
)
def test_it_refuses_malformed_catch_up_parameters(client, acme, query):
    token = start(client, acme.widget_key).json()["token"]
    response = client.get(f"/api/v1/visitor/messages?{query}", **bearer(token))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_message"


def test_it_refuses_json_nested_past_the_parser_limit(client, acme):
    token = start(client, acme.widget_key).json()["token"]
    response = client.post(
        "/api/v1/visitor/messages", "[" * 50_000, content_type="application/json", **bearer(token)
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
