"""Identity verification: a host site's signed-in user sees the same history on every
device; a wrong, missing or borrowed signature leaves the visitor anonymous.

People: Ivy, a customer of Acme signed in on her laptop and her phone; Mallory, who tries to
be Ivy.
"""

from __future__ import annotations

import uuid

import pytest

from helpdesk import services
from helpdesk.models import Visitor
from tests.factories import SiteFactory
from tests.ws import latest_welcome, send_message, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def hello(site, token=None, **identity):
    return await visitor_socket(site.widget_key, token, **identity)


async def test_ivy_sees_her_history_on_her_phone(acme):
    ivy = {"user_id": "cust-42", "user_hash": services.identity_hash(acme, "cust-42")}
    laptop, welcome = await hello(acme, name="Ivy", **ivy)
    assert welcome["identified"] is True and welcome["visitor_id"] is None  # not yet written
    await send_message(laptop, "My parcel is late.")
    welcome = latest_welcome(laptop)
    phone, on_phone = await hello(acme, **ivy)  # another device: no token, the same proof
    assert on_phone["visitor_id"] == welcome["visitor_id"]
    assert [m["body"] for m in on_phone["messages"] if m["sender"] == "visitor"] == [
        "My parcel is late."
    ]
    visitor = await Visitor.objects.aget(pk=welcome["visitor_id"])
    assert (visitor.external_id, visitor.name) == ("cust-42", "Ivy")
    for sock in (laptop, phone):
        await sock.close()


@pytest.mark.parametrize(
    "identity",
    [
        {"user_id": "cust-42", "user_hash": "0" * 64},  # wrong
        {"user_id": "cust-42"},  # missing
        {"user_id": "cust-42", "user_hash": ""},
    ],
)
async def test_a_wrong_or_missing_signature_stays_anonymous(acme, identity):
    ivy = {"user_id": "cust-42", "user_hash": services.identity_hash(acme, "cust-42")}
    laptop, _ = await hello(acme, **ivy)
    await send_message(laptop, "private order details")
    mallory, seen = await hello(acme, name="Ivy", **identity)
    assert seen["identified"] is False and seen["visitor_id"] is None
    assert seen["messages"] == [] and seen["conversation_id"] is None
    await send_message(mallory, "who am I?")
    anonymous = await Visitor.objects.aget(pk=latest_welcome(mallory)["visitor_id"])
    assert anonymous.external_id == "" and anonymous.name == ""  # no name from an unproven ID
    for sock in (laptop, mallory):
        await sock.close()


@pytest.fixture
def other_shop(db):
    return SiteFactory(name="Other shop")


async def test_a_signature_from_another_site_proves_nothing_here(acme, other_shop):
    borrowed = {"user_id": "cust-42", "user_hash": services.identity_hash(other_shop, "cust-42")}
    sock, welcome = await hello(acme, **borrowed)
    assert welcome["identified"] is False
    await sock.close()


async def test_an_identified_token_without_the_proof_starts_afresh(acme):
    """A shared computer after the host site's logout: the next person is anonymous."""
    ivy = {"user_id": "cust-42", "user_hash": services.identity_hash(acme, "cust-42")}
    laptop, _ = await hello(acme, **ivy)
    await send_message(laptop, "my address is 1 Elm St")
    await laptop.close()
    after_logout, seen = await hello(acme, token=latest_welcome(laptop)["token"])
    assert seen["visitor_id"] is None and seen["token"] is None and seen["messages"] == []
    await after_logout.close()


async def test_what_ivy_wrote_before_signing_in_joins_her_account(acme):
    anonymous, first = await hello(acme)
    await send_message(anonymous, "Question before I log in")
    first = latest_welcome(anonymous)
    await anonymous.close()
    ivy = {"user_id": "cust-42", "user_hash": services.identity_hash(acme, "cust-42")}
    signed_in, welcome = await hello(acme, token=first["token"], **ivy)
    assert welcome["identified"] is True and welcome["visitor_id"] != first["visitor_id"]
    assert "Question before I log in" in [m["body"] for m in welcome["messages"]]
    phone, on_phone = await hello(acme, **ivy)
    assert on_phone["conversation_id"] == welcome["conversation_id"]
    for sock in (signed_in, phone):
        await sock.close()


def test_apps_prove_identity_over_http_too(client, acme):
    body = {
        "site_key": acme.widget_key,
        "token": None,
        "channel": "app",
        "user_id": "cust-42",
        "user_hash": services.identity_hash(acme, "cust-42").upper(),  # hex in any case
    }
    one = client.post("/api/v1/visitor/session", body, content_type="application/json").json()
    two = client.post("/api/v1/visitor/session", body, content_type="application/json").json()
    assert one["identified"] and two["identified"]
    proof = {"HTTP_X_HELPDESK_USER_ID": "cust-42", "HTTP_X_HELPDESK_USER_HASH": body["user_hash"]}
    for session in (one, two):  # two devices: the first write makes her, the second finds her
        sent = client.post(
            "/api/v1/visitor/messages",
            {"client_id": str(uuid.uuid4()), "body": "hi"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {session['token']}",
            **proof,
        )
        assert sent.status_code == 201
    assert list(Visitor.objects.values_list("external_id", flat=True)) == ["cust-42"]
    borrowed = client.post(
        "/api/v1/visitor/messages",
        {"client_id": str(uuid.uuid4()), "body": "hi"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {one['token']}",
    )
    assert borrowed.json()["error"]["code"] == "identity_required"  # the token alone: no
    forged = client.post(
        "/api/v1/visitor/session", body | {"user_hash": "ab" * 32}, content_type="application/json"
    ).json()
    assert not forged["identified"] and forged["visitor_id"] is None
