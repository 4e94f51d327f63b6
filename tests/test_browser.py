"""Real browser: a visitor writes on the demo page while no agent is online; Alice logs in,
finds it in her message center, replies; the visitor sees the reply live.

Playwright drives Debian's Chromium (/usr/bin/chromium); nothing is downloaded.
Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.processes import ROOT, Server, database_url_for, server_env

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-artifacts" / "browser"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason="Chromium is not installed (make test installs it as root)",
    ),
]


@pytest.fixture
def server(tmp_path, transactional_db):
    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        CELERY_TASK_ALWAYS_EAGER="true",
        DB_CONN_MAX_AGE="0",
        STATIC_ROOT=str(tmp_path / "static"),
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
    )
    # Production serves collected static files through WhiteNoise, so collect them as it does.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    s = Server(env, tmp_path / "server.log").start()
    s.mailbox = tmp_path / "mail"
    yield s
    s.stop()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def test_a_visitor_message_left_offline_reaches_alice_and_her_reply_comes_back_live(
    acme,
    alice,
    server,
    browser,  # the people first: no database calls once Playwright runs
):
    errors: list[str] = []
    visitor = browser.new_page(viewport={"width": 1280, "height": 800})
    visitor.on("pageerror", lambda e: errors.append(str(e)))
    visitor.goto(f"{server.base}/demo/")
    visitor.click("#hd-launcher")
    frame = visitor.frame_locator("#hd-frame")
    frame.locator("#hd-status").filter(has_text="offline").wait_for()
    for text in ("Hello, is anyone there?", "My order #1042 has not arrived."):
        frame.locator("#hd-input").fill(text)
        frame.locator("#hd-send").click()
    sent = frame.locator('li.hd-msg--visitor[data-state="sent"]')
    sent.nth(1).wait_for()
    assert sent.count() == 2
    frame.locator("#hd-email").fill("vic@example.com")  # the offline form
    frame.locator("#hd-email-send").click()
    frame.locator("#hd-email-status", has_text="Check your inbox").wait_for()
    confirmation = "".join(p.read_text() for p in server.mailbox.iterdir())
    assert "vic@example.com" in confirmation and "/v/verify/" in confirmation
    shot(visitor, "1-visitor-offline")

    agent = browser.new_page(viewport={"width": 1280, "height": 800})
    agent.on("pageerror", lambda e: errors.append(str(e)))
    agent.goto(f"{server.base}/inbox/")
    agent.fill('input[name="username"]', "alice")
    agent.fill('input[name="password"]', "pw-for-tests-1")
    agent.click("#login-submit")
    conversation = agent.locator("#conversation-list a.conv").first
    conversation.locator(".conv-unread", has_text="2").wait_for()
    shot(agent, "2-agent-inbox")
    conversation.click()
    agent.locator("#thread-messages li.msg--visitor").nth(1).wait_for()
    agent.fill("#reply-input", "Hi! I'm checking order #1042 for you now.")
    agent.click("#reply-send")
    agent.locator("#thread-messages li.msg--agent").first.wait_for()
    # The list follows: the reply is the last message and the visitor no longer waits.
    conversation.filter(has_text="checking order").wait_for()
    assert (
        conversation.locator(".conv-unread").count() == 0
        or not conversation.locator(".conv-unread").is_visible()
    )
    shot(agent, "3-agent-replied")

    reply = frame.locator("li.hd-msg--agent").first
    reply.wait_for()
    assert "order #1042" in reply.inner_text()
    shot(visitor, "4-visitor-sees-reply")
    # two visitor lines, the offline notice and the reply: nothing shown twice
    assert frame.locator("li.hd-msg").count() == 4
    assert frame.locator("li.hd-msg--system").count() == 1
    assert errors == []


def test_an_agent_switching_to_available_receives_the_waiting_conversation_at_once(
    acme, alice, server, browser
):
    agent = browser.new_page(viewport={"width": 1280, "height": 800})
    agent.goto(f"{server.base}/inbox/")
    agent.fill('input[name="username"]', "alice")
    agent.fill('input[name="password"]', "pw-for-tests-1")
    agent.click("#login-submit")
    agent.locator('#connection-state[data-state="online"]').wait_for()
    agent.select_option("#agent-status", "away")
    agent.locator('#agent-status[data-status="away"]').wait_for()

    visitor = browser.new_page(viewport={"width": 1280, "height": 800})
    visitor.goto(f"{server.base}/demo/")
    visitor.click("#hd-launcher")
    frame = visitor.frame_locator("#hd-frame")
    frame.locator("#hd-input").fill("Is anybody there?")
    frame.locator("#hd-send").click()
    frame.locator("li.hd-msg--system", has_text="offline").wait_for()  # nobody available
    assert agent.locator("#conversation-list a.conv").count() == 0
    shot(agent, "5-agent-away")

    agent.select_option("#agent-status", "available")
    conversation = agent.locator("#conversation-list a.conv").first
    conversation.locator(".conv-unread", has_text="1").wait_for()
    assert "Is anybody there?" in conversation.inner_text()  # what the visitor said, not the notice
    shot(agent, "6-agent-available-takes-waiting")


def login(browser, server, username: str):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{server.base}/inbox/")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', "pw-for-tests-1")
    page.click("#login-submit")
    page.locator('#connection-state[data-state="online"]').wait_for()
    return page


def test_alice_transfers_a_conversation_to_sales_and_charlie_sees_who_and_why(
    acme, sales, alice, charlie, server, browser
):
    alice_page = login(browser, server, "alice")
    charlie_page = login(browser, server, "charlie")
    visitor = browser.new_page()
    visitor.goto(f"{server.base}/demo/")
    visitor.click("#hd-launcher")
    frame = visitor.frame_locator("#hd-frame")
    frame.locator("#hd-input").fill("Can I get a discount for 50 chairs?")
    frame.locator("#hd-send").click()

    alice_page.locator("#conversation-list a.conv").first.click()
    alice_page.select_option("#transfer-target", label="Sales")
    alice_page.fill("#transfer-reason", "bulk order: sales prices")
    alice_page.click("#transfer-send")
    alice_page.locator("#conversation-list a.conv").first.wait_for(state="detached")

    charlie_page.locator("#conversation-list a.conv").first.click()
    charlie_page.locator(
        ".msg-staff", has_text="Moved by Alice: bulk order: sales prices"
    ).wait_for()
    shot(charlie_page, "7-transferred-to-sales")
    line = frame.locator("li.hd-msg--system", has_text="Sales team")
    line.wait_for()
    assert "bulk order" not in line.inner_text()  # the reason is for staff only
    shot(visitor, "8-visitor-sees-transfer")

    charlie_page.click("#resolve-send")
    charlie_page.locator("#conversation-list a.conv").first.wait_for(state="detached")
    frame.locator("li.hd-msg--system", has_text="This conversation is closed").wait_for()


def test_messages_typed_while_the_server_restarts_go_out_once_after_reconnect(
    acme, server, browser
):
    visitor = browser.new_page(viewport={"width": 1280, "height": 800})
    visitor.goto(f"{server.base}/demo/")
    visitor.click("#hd-launcher")
    frame = visitor.frame_locator("#hd-frame")
    frame.locator("#hd-status").filter(has_text="offline").wait_for()  # welcomed

    server.stop()
    frame.locator("#hd-conn").filter(has_text="Reconnecting").wait_for()
    for text in ("Are you still there?", "My parcel never came."):
        frame.locator("#hd-input").fill(text)
        frame.locator("#hd-send").click()
    assert frame.locator('li.hd-msg--visitor[data-state="sending"]').count() == 2
    shot(visitor, "9-visitor-sending-while-server-down")

    server.start()  # same port, same database
    frame.locator('li.hd-msg--visitor[data-state="sent"]').nth(1).wait_for(timeout=30000)
    assert frame.locator("li.hd-msg--visitor").count() == 2

    visitor.reload()  # what the server stored, seen afresh: each message once
    visitor.click("#hd-launcher")
    frame = visitor.frame_locator("#hd-frame")
    frame.locator('li.hd-msg--visitor[data-state="sent"]').nth(1).wait_for()
    assert frame.locator("li.hd-msg--visitor").count() == 2
