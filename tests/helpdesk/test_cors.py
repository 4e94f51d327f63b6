"""CORS on the visitor API: a site's own pages may call it from the browser; other origins,
and the agent API, get no CORS headers (the browser then refuses to read the answer)."""

from __future__ import annotations

import pytest
from django.test import Client

from helpdesk.models import Site
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com"


def preflight(client: Client, path: str, origin: str):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, x-helpdesk-user-id",
    )


@pytest.fixture
def shop_only(acme):
    Site.objects.exclude(pk=acme.pk).delete()
    acme.allowed_origins = f"{SHOP}\nhttps://m.shop.example.com:8443"
    acme.save(update_fields=["allowed_origins"])
    return acme


def test_a_page_of_an_allowed_origin_may_call_the_visitor_api(client, shop_only):
    answer = preflight(client, "/api/v1/visitor/messages", SHOP)
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == SHOP
    allowed = answer["Access-Control-Allow-Headers"]
    assert "authorization" in allowed and "x-helpdesk-user-id" in allowed
    assert "Access-Control-Allow-Credentials" not in answer  # tokens, never cookies
    # The real request too (the browser checks the answer's header before handing it over).
    session = client.post(
        "/api/v1/visitor/session",
        {"site_key": shop_only.widget_key, "channel": "web"},
        content_type="application/json",
        HTTP_ORIGIN=SHOP,
    )
    assert session.status_code in (200, 201)
    assert session["Access-Control-Allow-Origin"] == SHOP


def test_other_origins_and_the_agent_api_get_no_cors(client, shop_only):
    assert "Access-Control-Allow-Origin" not in preflight(
        client, "/api/v1/visitor/messages", "https://evil.example"
    )
    assert "Access-Control-Allow-Origin" not in preflight(
        client, "/api/v1/visitor/messages", "http://shop.example.com:99999"
    )
    assert "Access-Control-Allow-Origin" not in preflight(
        client, "/api/v1/agent/conversations", SHOP
    )


def test_any_site_that_allows_the_origin_opens_the_door(client, shop_only):
    SiteFactory(allowed_origins="https://other.example")
    answer = preflight(client, "/api/v1/visitor/receipts", "https://other.example")
    assert answer["Access-Control-Allow-Origin"] == "https://other.example"
