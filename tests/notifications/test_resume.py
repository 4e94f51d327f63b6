"""Continuing on another device: a one-time code emailed to a confirmed address.

People: Vic, who confirmed vic@example.com on her laptop and now writes from her phone;
Mallory, who guesses.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from helpdesk import services as helpdesk_services
from notifications.models import ResumeGrant
from tests.factories import VisitorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def vic(acme):
    visitor = VisitorFactory(
        site=acme, email="vic@example.com", email_verified_at=timezone.now(), language="en"
    )
    helpdesk_services.message_send_by_visitor(
        visitor=visitor, client_id=uuid.uuid4(), body="Where is order 1042?"
    )
    return visitor


def ask(client, site, email):
    return client.post(
        "/api/v1/visitor/resume",
        {"site_key": site.widget_key, "email": email},
        content_type="application/json",
    )


def confirm(client, site, email, code):
    return client.post(
        "/api/v1/visitor/resume/confirm",
        {"site_key": site.widget_key, "email": email, "code": code},
        content_type="application/json",
    )


def emailed_code() -> str:
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


def test_vic_continues_on_her_phone_with_an_emailed_code(
    client, acme, vic, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert ask(client, acme, "VIC@example.com").status_code == 202
    [email] = mail.outbox
    assert email.to == ["vic@example.com"] and "continue" in email.subject
    code = emailed_code()
    response = confirm(client, acme, "vic@example.com", code)
    assert response.status_code == 200 and response.json()["visitor_id"] == str(vic.pk)
    session = client.post(
        "/api/v1/visitor/session",
        {"site_key": acme.widget_key, "token": response.json()["token"]},
        content_type="application/json",
    ).json()
    assert session["visitor_id"] == str(vic.pk) and session["conversation_id"]
    again = confirm(client, acme, "vic@example.com", code)
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_code"


def test_unknown_or_unconfirmed_addresses_look_the_same_and_get_nothing(
    client, acme, django_capture_on_commit_callbacks
):
    VisitorFactory(site=acme, email="pending@example.com")  # never confirmed
    with django_capture_on_commit_callbacks(execute=True):
        for email in ("nobody@example.com", "pending@example.com"):
            response = ask(client, acme, email)
            assert response.status_code == 202 and response.json() == {"sent": True}
    assert mail.outbox == [] and not ResumeGrant.objects.exists()


def test_five_wrong_guesses_burn_the_code(client, acme, vic, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ask(client, acme, "vic@example.com")
    code = emailed_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert confirm(client, acme, "vic@example.com", wrong).status_code == 400
    assert confirm(client, acme, "vic@example.com", code).status_code == 400  # too late
    assert ResumeGrant.objects.get().attempts == 5


def test_codes_expire_are_limited_and_stay_on_their_site(
    client, acme, vic, django_capture_on_commit_callbacks
):
    from tests.factories import SiteFactory

    other = SiteFactory(name="Other shop")
    with django_capture_on_commit_callbacks(execute=True):
        ask(client, acme, "vic@example.com")
    code = emailed_code()
    assert confirm(client, other, "vic@example.com", code).status_code == 400
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert confirm(client, acme, "vic@example.com", code).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            ask(client, acme, "vic@example.com")
    assert len(mail.outbox) == 3  # at most three an hour
    bad = client.post(
        "/api/v1/visitor/resume/confirm",
        {"site_key": acme.widget_key, "email": "vic@example.com", "code": "12ab56"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_message"
