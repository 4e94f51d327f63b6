"""The back office's app and mini-program settings and the reports' channel figures, in a real
Chromium: Sam, Acme's administrator, pastes the mini-program's secret and an APNs key, saves,
and the page says they are saved without ever showing them; the reports show first responses
per channel. Screenshots at phone and desktop sizes, English and Chinese browsers (the back
office itself is in English), in test-artifacts/browser/.
"""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth.models import Permission

from helpdesk import services
from helpdesk.models import Conversation
from tests.factories import UserFactory, VisitorFactory
from tests.test_browser import browser, server, shot  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

SIZES = {"phone": (390, 844), "desktop": (1440, 900)}
LOCALES = {"en": "en-GB", "zh": "zh-CN"}


@pytest.fixture
def sam(acme):
    user = UserFactory(username="sam", is_staff=True, password="pw-for-tests-1")
    acme.administrators.add(user)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "view_channelsettings",
                "add_channelsettings",
                "change_channelsettings",
                "view_conversation",
            ]
        )
    )
    return user


def sign_in(page, base, username):
    page.goto(f"{base}/accounts/login/?next=/admin/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-for-tests-1")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{base}/admin/", timeout=15000)


@pytest.fixture
def answered(acme, alice):
    """An app visitor and a mini-program visitor, each answered by Alice."""
    for name, channel in [("Andy", "app"), ("Mona", "mini_program")]:
        visitor = VisitorFactory(site=acme, name=name, channel=channel)
        msg = services.message_send_by_visitor(
            visitor=visitor, client_id=uuid.uuid4(), body="hello"
        ).message
        Conversation.objects.filter(pk=msg.conversation_id).update(
            channel=channel, assigned_agent=alice
        )
        conv = Conversation.objects.get(pk=msg.conversation_id)
        services.message_send_by_agent(
            agent=alice, conversation=conv, client_id=uuid.uuid4(), body="hi"
        )


def test_a_site_administrator_sets_up_the_app_and_the_mini_program(
    sam,
    answered,
    server,  # noqa: F811
    browser,  # noqa: F811  the people first: no database calls once Playwright runs
):
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    page = context.new_page()
    sign_in(page, server.base, "sam")
    page.goto(f"{server.base}/admin/notifications/channelsettings/add/")
    page.select_option("select[name=site]", label="Acme")
    page.fill("textarea[name=apns_key_text]", key.decode())
    page.fill("input[name=apns_key_id]", "KEY1234567")
    page.fill("input[name=apns_team_id]", "TEAM123456")
    page.fill("input[name=apns_bundle_id]", "com.acme.shop")
    page.fill("input[name=wechat_appid]", "wx0123456789abcdef")
    page.fill("input[name=wechat_secret_text]", "the-app-secret-0123456789")
    page.fill(
        "textarea[name=wechat_templates]",
        '[{"id": "tmpl-reply", "fields": {"thing1": "site", "thing2": "reply"}}]',
    )
    page.click("input[name=_continue]")
    page.wait_for_selector("text=AppSecret: saved", timeout=15000)
    html = page.content()
    assert "the-app-secret-0123456789" not in html and "BEGIN PRIVATE KEY" not in html
    assert "APNs key: saved" in html  # stored encrypted: tests/helpdesk/test_access_matrix.py
    settings_url = page.url
    context.close()

    for lang, locale in LOCALES.items():
        for size, (width, height) in SIZES.items():
            ctx = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
            p = ctx.new_page()
            sign_in(p, server.base, "sam")
            p.goto(settings_url)
            p.wait_for_selector("text=APNs key: saved")
            shot(p, f"channel-settings-{size}-{lang}")
            p.goto(f"{server.base}/admin/reports/")
            table = p.wait_for_selector("#rp-channels")
            assert "Mini-program" in table.inner_text() and "App" in table.inner_text()
            table.scroll_into_view_if_needed()
            shot(p, f"reports-channels-{size}-{lang}")
            ctx.close()
