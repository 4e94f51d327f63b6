"""Rating a resolved conversation: over the socket, over HTTP and from the follow-up email.

People: Vic (a visitor of Acme who writes and is answered by Alice), Val (another visitor of
Acme, who must not rate Vic's conversation).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client

from helpdesk import satisfaction, services, tokens
from helpdesk.models import Conversation, Rating
from notifications import services as notifications
from tests.conversations import assign, visitor_writes
from tests.ws import send_message, visitor_socket


def resolve(conv: Conversation) -> Conversation:
    services.conversation_resolve(conversation_id=conv.pk, by_name="Alice")
    conv.refresh_from_db()
    return conv


def snapshot() -> list[tuple]:
    return [(r.conversation_id, r.score, r.comment) for r in Rating.objects.order_by("created_at")]


# ---- the socket -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_visitor_rates_a_resolved_conversation_over_the_socket(acme, alice):
    vic, welcome = await visitor_socket(acme.widget_key)
    assert welcome["site"]["satisfaction"] == "five"
    conv_id = (await send_message(vic, "Where is my parcel?"))["message"]["conversation_id"]
    rate = {"type": "rating", "conversation_id": conv_id, "score": 4, "comment": "quick"}

    await vic.send(rate)  # still open
    assert (await vic.expect("error"))["code"] == "not_resolved"
    await database_sync_to_async(lambda: resolve(Conversation.objects.get(pk=conv_id)))()
    await vic.send(rate)
    answer = await vic.expect("rating")
    assert (answer["score"], answer["comment"], answer["scale"]) == (4, "quick", "five")
    await vic.send({**rate, "score": 5, "comment": ""})  # again: replaces it
    assert (await vic.expect("rating"))["score"] == 5
    assert await database_sync_to_async(snapshot)() == [(uuid.UUID(conv_id), 5, "")]

    val, _ = await visitor_socket(acme.widget_key)  # not hers
    await val.send(rate)
    assert (await val.expect("error"))["code"] == "not_found"
    for bad in ({"score": 6}, {"score": 0}, {"score": "x"}, {"comment": "x" * 1001}):
        await vic.send({**rate, **bad})
        assert (await vic.expect("error"))["code"] == "invalid_message", bad
    assert await database_sync_to_async(snapshot)() == [(uuid.UUID(conv_id), 5, "")]
    for sock in (vic, val):
        await sock.close()


@pytest.mark.django_db
def test_the_sites_scale_decides_what_may_be_given(acme):
    conv = resolve(visitor_writes(acme))
    acme.satisfaction = "thumbs"
    acme.save(update_fields=["satisfaction"])
    with pytest.raises(satisfaction.NotRateable, match="good is 5"):
        satisfaction.rating_give(conversation_id=conv.pk, visitor=conv.visitor, score=3)
    rating = satisfaction.rating_give(conversation_id=conv.pk, visitor=conv.visitor, score=1)
    assert (rating.scale, rating.score) == ("thumbs", 1)
    acme.satisfaction = "off"
    acme.save(update_fields=["satisfaction"])
    with pytest.raises(satisfaction.NotRateable) as refused:
        satisfaction.rating_give(conversation_id=conv.pk, visitor=conv.visitor, score=5)
    assert refused.value.code == "rating_off"
    assert Rating.objects.get().score == 1  # unchanged


@pytest.mark.django_db
def test_a_comment_is_encrypted_at_rest(acme):
    conv = resolve(visitor_writes(acme))
    satisfaction.rating_give(
        conversation_id=conv.pk, visitor=conv.visitor, score=2, comment="rude agent 4711"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT comment FROM helpdesk_rating")
        stored = cursor.fetchone()[0]
    assert "4711" not in stored and stored.startswith("v1:")
    assert Rating.objects.get().comment == "rude agent 4711"


# ---- HTTP -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_app_rates_over_http(acme):
    conv = visitor_writes(acme)
    token = tokens.issue(site_id=acme.id, visitor_id=conv.visitor_id)
    client = Client()

    def post(body: dict, auth: str | None = token):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {auth}"} if auth else {}
        return client.post(
            "/api/v1/visitor/rating", body, content_type="application/json", **headers
        )

    body = {"conversation_id": str(conv.pk), "score": 5, "comment": "great"}
    refused = post(body)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_resolved"
    resolve(conv)
    done = post(body)
    assert done.status_code == 200 and done.json()["score"] == 5
    assert post(body, auth=None).status_code == 401
    other = tokens.issue(site_id=acme.id, visitor_id=visitor_writes(acme).visitor_id)
    assert post(body, auth=other).json()["error"]["code"] == "not_found"
    assert post({**body, "score": 9}).json()["error"]["code"] == "invalid_message"
    assert snapshot() == [(conv.pk, 5, "great")]


# ---- the follow-up email ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_follow_up_email_asks_once_resolved_and_its_link_rates(acme, alice, client):
    conv = assign(visitor_writes(acme, language="zh-CN"), alice)
    conv.visitor.email, conv.visitor.email_verified_at = "vic@example.com", conv.created_at
    conv.visitor.save(update_fields=["email", "email_verified_at"])
    services.message_send_by_agent(
        agent=alice, conversation=conv, client_id=uuid.uuid4(), body="Sorted, it ships today."
    )
    resolve(conv)
    later = conv.created_at + timedelta(minutes=5)
    import time_machine

    with time_machine.travel(later, tick=False):
        notifications.scan()
    [email] = mail.outbox
    assert "我们的服务如何" in email.body  # in the visitor's language
    links = [w for w in email.body.split() if "/rate/" in w]
    assert len(links) == 5 and links[0].startswith(f"{settings.PUBLIC_BASE_URL}/rate/")
    html = email.alternatives[0][0]
    assert html.count("/rate/") == 5
    four = links[1].removeprefix(settings.PUBLIC_BASE_URL)
    assert four.endswith("?score=4")
    page = client.get(four)  # a mail scanner following the link rates nothing
    assert page.status_code == 200 and 'value="4" checked' in page.content.decode()
    assert Rating.objects.count() == 0
    path = four.split("?")[0]
    done = client.post(path, {"score": "4", "comment": "Fast, thanks"})
    assert done.status_code == 200 and 'id="rate-thanks"' in done.content.decode()
    rating = Rating.objects.get()
    assert (rating.score, rating.comment, rating.source) == (4, "Fast, thanks", "email")
    assert client.post(path, {"score": "7"}).status_code == 400
    assert client.post("/rate/forged:token/", {"score": "5"}).status_code == 400
    assert Rating.objects.get().score == 4


@pytest.mark.django_db
def test_an_email_for_an_open_conversation_asks_nothing(acme, alice):
    conv = assign(visitor_writes(acme), alice)
    assert satisfaction.rating_links(conv) == []
    resolve(conv)
    assert len(satisfaction.rating_links(conv)) == 5
    acme.satisfaction = "thumbs"
    acme.save(update_fields=["satisfaction"])
    conv.refresh_from_db()
    assert [
        link["score"]
        for link in satisfaction.rating_links(
            Conversation.objects.select_related("site").get(pk=conv.pk)
        )
    ] == [5, 1]
