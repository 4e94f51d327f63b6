"""A manager's day in a real browser (Playwright on Debian's Chromium): live supervision with a
reassignment and a takeover, a visitor's rating after resolve, the back office (dashboard,
a site's preview and secret, the rota grid, export and erasure, the audit log), at 1440x900
and 390x844, in English and Chinese. Screenshots go to test-artifacts/managers/ (the ones
in docs/back-office.md come from here).

People: Mia manages Support and is no agent; Lee manages Support and answers in it; Sam
administers the Acme site; Alice (online, full) and Bob (away, offline) are Support's agents; Root
is a superuser. Everything is set up before the browser starts: no database calls while
Playwright runs (its loop would make Django refuse them), checks after go through a thread.
"""

from __future__ import annotations

import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connections
from django.utils import timezone

from helpdesk import satisfaction, services
from helpdesk.models import Agent, Conversation, Rating, Tag, Visitor
from privacy.models import AuditEntry
from routing import presence
from routing.models import Shift
from tests.conversations import assign, visitor_writes
from tests.factories import AgentFactory, UserFactory
from tests.processes import ROOT, Server, database_url_for, server_env
from tests.test_browser import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed"),
]
SHOTS = ROOT / "test-artifacts" / "managers"
PASSWORD = "pw-for-tests-1"
PERMS = [
    "view_site",
    "change_site",
    "view_visitor",
    "change_visitor",
    "view_conversation",
    "change_conversation",
    "view_agent",
    "change_agent",
    "view_agentgroup",
    "change_agentgroup",
    "view_auditentry",
    "view_tag",
]


def in_thread(fn: Any, *args: Any) -> Any:
    """Database work while Playwright's loop runs in this thread (its connection closed
    after, or the test database could not be dropped)."""

    def run() -> Any:
        try:
            return fn(*args)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def shot(page: Any, name: str, full: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def staff(username: str) -> Any:
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=PERMS))
    return user


def backoffice_look() -> None:
    """The theme row a migration made (a transactional test's flush took it away)."""
    from importlib import import_module

    from admin_interface.cache import del_cached_active_theme
    from django.apps import apps

    import_module("helpdesk.migrations.0015_backoffice_theme").set_look(apps, None)
    del_cached_active_theme()


@pytest.fixture
def floor(acme, support, sales, alice, bob, charlie):
    """A morning at Acme: a queue in Support (one past its target, one escalated), Alice on
    two conversations, Bob away; a week of resolved and rated history; Alice's rota."""
    now = timezone.now()
    backoffice_look()
    mia, sam = staff("mia"), staff("sam")
    support.managers.add(mia)
    acme.administrators.add(sam)
    lee = AgentFactory(user=staff("lee"), display_name="Lee", member_of=[support])
    support.managers.add(lee.user)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    support.wait_target_seconds, support.default_capacity = 120, 5
    support.save(update_fields=["wait_target_seconds", "default_capacity"])
    Agent.objects.filter(pk=bob.pk).update(status=Agent.Status.AWAY)
    vip, refund = (
        Tag.objects.create(name="VIP", color="#d97706"),
        Tag.objects.create(name="Refund", color="#dc2626"),
    )

    def at(when: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with time_machine.travel(when, tick=False):
            return fn(*args, **kwargs)

    def waiting(name: str, minutes: int, **fields: Any) -> Conversation:
        conv = at(
            now - timedelta(minutes=minutes),
            visitor_writes,
            acme,
            f"Hello, this is {name}",
            name=name,
        )
        Conversation.objects.filter(pk=conv.pk).update(**fields)
        return conv

    waiting("Wang Fang", 6)
    waiting("Jonas", 1, escalation_level=1, priority=2)
    waiting("Priya", 0)
    assign(waiting("Chen Jie", 3), alice)  # waiting for Alice's answer
    amara = assign(waiting("Amara", 1), alice)
    at(
        now,
        services.message_send_by_agent,
        agent=alice,
        conversation=amara,
        client_id=uuid.uuid4(),
        body="Hi Amara!",
    )
    # A week of history at different hours: answered after 2, 6 or 14 minutes, resolved after
    # 25, 90 or 40, rated 5, 4 and 2, some tagged.
    for day in range(1, 8):
        for n, (score, tags, answer, resolve) in enumerate(
            ((5, [vip], 2, 25), (4, [], 6, 90), (2, [refund], 14, 40))
        ):
            asked = now - timedelta(days=day, hours=2 + 3 * n + day % 3)
            conv = assign(at(asked, visitor_writes, acme, "Where is my order?"), alice)
            reply = asked + timedelta(minutes=answer)
            at(
                reply,
                services.message_send_by_agent,
                agent=alice,
                conversation=conv,
                client_id=uuid.uuid4(),
                body="On its way!",
            )
            at(
                asked + timedelta(minutes=resolve),
                services.conversation_resolve,
                conversation_id=conv.pk,
                by_name="Alice",
            )
            conv.tags.set(tags)
            if day < 6 or n:  # a few not rated
                satisfaction.rating_give(conversation_id=conv.pk, score=score)
    from datetime import time

    for weekday in range(5):
        Shift.objects.create(
            agent=alice, weekday=weekday, starts=time(8), ends=time(16), timezone="UTC"
        )
    # Alice is full (2 of 2): new conversations wait in the queue, where Mia watches them.
    Agent.objects.filter(pk=alice.pk).update(capacity=2)
    presence.store().connect("agent", str(alice.pk), "test-alice")
    # Bob is away and not connected (an agent who is connected takes waiting work whenever
    # a flush runs for him, away or not: see the report's notes).
    return {"mia": mia, "sam": sam, "lee": lee, "root": root}


@pytest.fixture
def server(tmp_path, transactional_db):
    """A real uvicorn on the test database, its PUBLIC_BASE_URL its own address (the embed
    code and email links name it)."""
    import subprocess
    import sys

    from django.db import connection

    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        CELERY_TASK_ALWAYS_EAGER="true",
        DB_CONN_MAX_AGE="0",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    s = Server(env, tmp_path / "server.log")
    s.env["PUBLIC_BASE_URL"] = s.base
    s.start()
    yield s
    s.stop()
    print("server log (last 4000 characters):", s.log.read_text(errors="replace")[-4000:])


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def new_page(browser: Any, *, phone: bool = False, chinese: bool = False) -> Any:
    context = browser.new_context(
        viewport={"width": 390, "height": 844} if phone else {"width": 1440, "height": 900},
        locale="zh-CN" if chinese else "en-US",
        accept_downloads=True,
    )
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on(
        "console",
        lambda m: page.errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return page


def sign_in(page: Any, base: str, username: str, then: str) -> None:
    page.goto(f"{base}/accounts/login/?next={then}")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"**{then}")


def admin_sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click('input[type="submit"]')
    page.locator("#dashboard").wait_for()


# ---- live supervision ---------------------------------------------------------------------------


def test_a_manager_watches_the_queue_live_reassigns_and_takes_over(
    floor, acme, bob, server, chromium
):
    mia = new_page(chromium)
    sign_in(mia, server.base, "mia", "/supervision/")
    mia.locator('#sv-conn[data-state="online"]').wait_for()
    team = mia.locator('.sv-team:has(h2:text-is("Support"))')
    team.locator(".sv-queue .sv-item").nth(2).wait_for()
    assert team.locator(".sv-queue .sv-item").count() == 3
    assert mia.locator('.sv-team:has(h2:text-is("Sales"))').count() == 0  # not hers
    risky = mia.locator("#sv-risk-list .sv-item")
    risky.nth(1).wait_for()
    assert "Wang Fang" in risky.all_inner_texts()[0] or "Wang Fang" in " ".join(
        risky.all_inner_texts()
    )
    assert mia.locator('#sv-risk-list .sv-wait[data-level="late"]').count() >= 1
    shot(mia, "supervision-1440-en")

    # A visitor writes on the shop: the queue grows without a reload.
    visitor = new_page(chromium)
    visitor.goto(f"{server.base}/demo/")
    visitor.click("#hd-launcher")
    widget = visitor.frame_locator("#hd-frame")
    widget.locator("#hd-input").fill("Do you ship to Shanghai?")
    widget.locator("#hd-send").click()
    widget.locator('li.hd-msg--visitor[data-state="sent"]').wait_for()
    team.locator(".sv-queue .sv-item").nth(3).wait_for(timeout=10_000)

    # Mia opens it, reads it, and hands it to Bob; she has no agent profile to take it over.
    newest = team.locator(".sv-queue .sv-item").last
    newest.locator("[data-open]").click()
    mia.locator("#sv-d-thread li", has_text="Do you ship to Shanghai?").wait_for()
    assert mia.locator("#sv-d-take").is_disabled()
    mia.select_option("#sv-d-target", f"agent:{bob.pk}")
    mia.click("#sv-d-move")
    mia.locator("#sv-d-note", has_text="Reassigned").wait_for()
    mia.click("#sv-d-close")
    bobs = team.locator(f'.sv-agent[data-agent-id="{bob.pk}"] .sv-chip')
    bobs.first.wait_for()
    assert team.locator(".sv-queue .sv-item").count() == 3
    shot(mia, "supervision-reassigned-1440-en")

    phone = new_page(chromium, phone=True)
    sign_in(phone, server.base, "mia", "/supervision/")
    phone.locator(".sv-queue .sv-item").first.wait_for()
    shot(phone, "supervision-390-en")
    chinese = new_page(chromium, chinese=True)
    sign_in(chinese, server.base, "mia", "/supervision/")
    chinese.locator(".sv-queue .sv-item").first.wait_for()
    shot(chinese, "supervision-1440-zh")

    # Lee, who also answers, takes one over from his phone (in Chinese) and answers in the inbox.
    lee = new_page(chromium, phone=True, chinese=True)
    sign_in(lee, server.base, "lee", "/supervision/")
    lee.locator("#sv-title", has_text="实时监控").wait_for()
    lee.locator(".sv-queue .sv-item").first.wait_for()
    shot(lee, "supervision-390-zh")
    lee.locator(".sv-queue .sv-item [data-open]").first.click()
    lee.locator("#sv-d-thread li").first.wait_for()
    lee.click("#sv-d-take")
    lee.locator("#sv-d-note", has_text="已由您接手").wait_for()
    lee.locator("#sv-d-sub", has_text="由 Lee 处理").wait_for()  # read again: his now
    shot(lee, "supervision-takeover-390-zh")
    lee.click("#sv-d-inbox")
    lee.wait_for_url("**/inbox/*/")
    # Lee is online now: Mia sees him with the conversation he took.
    mia.locator('.sv-agent:has(strong:text-is("Lee")) .sv-dot[data-state="online"]').wait_for()

    for page in (mia, visitor, lee, phone, chinese):
        assert page.errors == [], page.errors

    log = in_thread(
        lambda: list(AuditEntry.objects.order_by("pk").values_list("action", "actor_name"))
    )
    assert log == [("transfer", "mia"), ("takeover", "Lee")]


# ---- satisfaction ------------------------------------------------------------------------------------


@pytest.mark.parametrize("chinese", [False, True], ids=["en", "zh"])
def test_a_visitor_rates_the_conversation_once_it_is_resolved(
    floor, acme, server, chromium, chinese
):
    lang = "zh" if chinese else "en"
    visitor = new_page(chromium, phone=True, chinese=chinese)
    visitor.goto(f"{server.base}/demo/")
    visitor.click("#hd-launcher")
    widget = visitor.frame_locator("#hd-frame")
    widget.locator("#hd-input").fill("My parcel is late")
    widget.locator("#hd-send").click()
    widget.locator('li.hd-msg--visitor[data-state="sent"]').wait_for()

    # A manager resolves it from the back office (the conversations list's action).
    root = new_page(chromium)
    admin_sign_in(root, server.base, "root")
    root.goto(f"{server.base}/admin/helpdesk/conversation/?status__exact=open&o=-9")
    row = root.locator("#result_list tbody tr").first
    row.locator("input.action-select").check()
    root.select_option('select[name="action"]', "resolve")
    root.click('button[name="index"]')
    root.locator(".messagelist", has_text="Resolved 1").wait_for()

    card = widget.locator("#hd-rate")
    card.wait_for(timeout=10_000)
    assert card.locator(".hd-rate-star").count() == 5
    card.locator(".hd-rate-star").nth(3).click()  # four stars
    comment = "很快 谢谢" if chinese else "Quick and kind"
    card.locator(".hd-rate-comment").fill(comment)
    shot(visitor, f"widget-rating-390-{lang}")
    card.locator(".hd-rate-send").click()
    thanks = "感谢您的评价" if chinese else "Thank you for your rating"
    card.locator(".hd-rate-title", has_text=thanks).wait_for()
    shot(visitor, f"widget-rated-390-{lang}")
    assert visitor.errors == [] and root.errors == []

    latest = in_thread(lambda: Rating.objects.order_by("-updated_at").first())
    assert (latest.score, latest.source, latest.comment) == (4, "widget", comment)


# ---- the back office ---------------------------------------------------------------------------------


@pytest.fixture
def vic(floor, acme):
    """Vic asked for a copy of her data, then to be forgotten."""
    return visitor_writes(acme, "Please delete my data", name="Vic Tor").visitor


@pytest.fixture
def satisfied(floor) -> str:
    """The share of the month's ratings at 4 or 5, as the reports word it."""
    scores = list(Rating.objects.values_list("score", flat=True))
    return f"{sum(s >= 4 for s in scores) / len(scores):.0%}"


@pytest.fixture
def waiting(vic, acme):
    return Conversation.objects.filter(
        status="open", assigned_agent__isnull=True, group=acme.default_group
    ).count()


def test_a_manager_works_in_the_back_office(
    floor, acme, alice, vic, waiting, satisfied, server, chromium
):
    site_id, secret = acme.pk, acme.identity_secret

    # Mia: the dashboard, her rota, the reports.
    for phone in (False, True):
        page = new_page(chromium, phone=phone)
        admin_sign_in(page, server.base, "mia")
        assert page.locator("#dash-waiting .hd-tile-num").inner_text() == str(waiting)
        shot(page, f"dashboard-{'390' if phone else '1440'}-en", full=not phone)
    mia = new_page(chromium)
    admin_sign_in(mia, server.base, "mia")
    mia.goto(f"{server.base}/admin/shifts/")
    mia.locator("#rota-grid").wait_for()
    grid = mia.locator("#rota-grid tbody tr")
    saturday = grid.nth(5).locator("td")
    start, end = saturday.nth(10).bounding_box(), saturday.nth(13).bounding_box()
    mia.mouse.move(start["x"] + 5, start["y"] + 5)
    mia.mouse.down()
    mia.mouse.move(end["x"] + 5, end["y"] + 5, steps=6)
    mia.mouse.up()
    assert [saturday.nth(h).get_attribute("aria-checked") for h in range(9, 15)] == [
        "false",
        "true",
        "true",
        "true",
        "true",
        "false",
    ]
    shot(mia, "shifts-editing-1440-en", full=True)
    mia.click("#rota-save")
    mia.locator(".messagelist", has_text="week is saved").wait_for()
    assert mia.locator("#rota-grid tbody tr").nth(5).locator('td[aria-checked="true"]').count() == 4
    phone = new_page(chromium, phone=True)
    admin_sign_in(phone, server.base, "mia")
    phone.goto(f"{server.base}/admin/shifts/")
    shot(phone, "shifts-390-en")
    mia.goto(f"{server.base}/admin/reports/")
    mia.locator("#rp-satisfied").wait_for()
    assert mia.locator("#rp-satisfied").inner_text() == satisfied
    shot(mia, "reports-1440-en", full=True)
    phone.goto(f"{server.base}/admin/reports/")
    shot(phone, "reports-390-en")

    # Sam, the site's administrator: the widget preview, the embed code, the secret.
    sam = new_page(chromium)
    admin_sign_in(sam, server.base, "sam")
    sam.goto(f"{server.base}/admin/helpdesk/site/{site_id}/change/")
    assert server.base in sam.locator("#hd-embed").inner_text()
    sam.fill("#id_greeting", "Hi! Ask us about sizes and delivery.")
    sam.fill("#id_name", "Acme Outdoor")
    sam.locator("#id_color").evaluate(
        "(el) => { el.value = '#0f766e'; el.dispatchEvent(new Event('input')); }"
    )
    assert (
        sam.locator("#hd-preview-greeting").inner_text() == "Hi! Ask us about sizes and delivery."
    )
    assert sam.locator("#hd-preview-name").inner_text() == "Acme Outdoor"
    assert "#0f766e" in sam.locator("#hd-preview").get_attribute("style")
    assert secret not in sam.content()
    shot(sam, "site-settings-1440-en", full=True)
    sam.click("#hd-secret-reveal")
    sam.locator("#hd-secret", has_text=secret).wait_for()
    sam.once("dialog", lambda dialog: dialog.accept())
    sam.click("#hd-secret-rotate")
    sam.locator(".messagelist", has_text="new identity secret").wait_for()
    phone = new_page(chromium, phone=True)
    admin_sign_in(phone, server.base, "sam")
    phone.goto(f"{server.base}/admin/helpdesk/site/{site_id}/change/")
    shot(phone, "site-settings-390-en")

    # Vic asked for a copy of her data, then to be forgotten.
    sam.goto(f"{server.base}/admin/helpdesk/visitor/{vic.pk}/change/")
    with sam.expect_download() as download:
        sam.click("#visitor-export")
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert data["visitor"]["name"] == "Vic Tor"
    assert data["conversations"][0]["messages"][0]["text"] == "Please delete my data"
    sam.click("#visitor-erase")
    sam.locator("#erase-confirm").wait_for()
    shot(sam, "erase-1440-en")
    sam.click("#erase-confirm")
    sam.locator(".messagelist", has_text="erased").wait_for()
    sam.goto(f"{server.base}/admin/privacy/auditentry/")
    shot(sam, "audit-log-1440-en", full=True)
    texts = sam.locator("#result_list").inner_text()
    for action in (
        "Erased a visitor",
        "Exported a visitor",
        "Rotated an identity secret",
        "Revealed an identity secret",
    ):
        assert action in texts, action
    assert not in_thread(lambda: Visitor.objects.filter(pk=vic.pk).exists())
    for page in (mia, sam, phone):
        assert page.errors == [], page.errors
