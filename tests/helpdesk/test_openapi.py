"""The HTTP API against its own OpenAPI schema (drf-spectacular), with schemathesis
generating requests from it: no server errors, and every answer (status, content type,
body) as documented. Bounded: a fixed number of examples per operation."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from helpdesk import services, tokens
from tests.factories import VisitorFactory
from tests.ws import session_cookie

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(transactional_db):
    # Committed data: the WSGI handler closes the database connection after each request,
    # as in production, which a test transaction would not survive.
    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def credentials(acme, alice):
    """Ivy, an identified visitor of Acme with a conversation, and Alice's session."""
    import uuid

    ivy = VisitorFactory(site=acme, name="Ivy")
    services.message_send_by_visitor(visitor=ivy, client_id=uuid.uuid4(), body="hello")
    return {
        "headers": {"Authorization": f"Bearer {tokens.issue(site_id=acme.id, visitor_id=ivy.id)}"},
        "cookies": {"sessionid": session_cookie(alice.user)},
    }


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_answers_as_its_schema_says(case, credentials):
    case.call_and_validate(
        headers=credentials["headers"], cookies=credentials["cookies"], checks=CHECKS
    )


def test_the_schema_and_its_docs_page_are_served(client):
    doc = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert doc.status_code == 200
    paths = doc.json()["paths"]
    assert {
        "/api/v1/visitor/session",
        "/api/v1/visitor/messages",
        "/api/v1/agent/conversations",
    } <= set(paths)
    page = client.get("/api/docs/")
    assert page.status_code == 200 and b"swagger" in page.content.lower()
