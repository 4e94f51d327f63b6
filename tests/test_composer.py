"""The composer the widget and the inbox share (helpdesk/static/helpdesk/composer.js), in a real
browser: Enter sends, Shift+Enter and an Enter that confirms an IME composition do not, the box
grows with its text, and a counter appears near the length limit.

Playwright drives Debian's Chromium (/usr/bin/chromium). Screenshots go to
test-artifacts/browser/.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.processes import ROOT, Server, database_url_for, server_env

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-artifacts" / "browser"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARGS += ["--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason="Chromium is not installed (make test installs it as root)",
    ),
]

# An Enter that confirms a composition (Chinese, Japanese…): the browser says isComposing, or
# (Safari) keyCode 229. Neither may send.
COMPOSING_ENTERS = """(selector) => {
  const input = document.querySelector(selector);
  for (const composing of [true, false]) {
    const event = new KeyboardEvent("keydown", {key: "Enter", isComposing: composing, bubbles: true, cancelable: true});
    if (!composing) Object.defineProperty(event, "keyCode", {get: () => 229});
    input.dispatchEvent(event);
  }
}"""


@pytest.fixture
def server(tmp_path, transactional_db):
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
    s = Server(env, tmp_path / "server.log").start()
    yield s
    s.stop()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def check_composer(page, box: str, sent: str, counter_scope: str) -> None:
    """The same composer behaviour, wherever it is: ``box`` the text area, ``sent`` what a
    sent message looks like, ``counter_scope`` the form holding the counter."""
    page.fill(box, "你好我的订单")
    height = page.eval_on_selector(box, "node => node.offsetHeight")
    page.evaluate(COMPOSING_ENTERS, box)
    page.press(box, "Shift+Enter")
    page.type(box, "还没到")
    assert page.locator(sent).count() == 0
    assert page.input_value(box) == "你好我的订单\n还没到"
    assert page.eval_on_selector(box, "node => node.offsetHeight") > height  # it grew
    page.press(box, "Enter")
    page.locator(sent, has_text="还没到").wait_for()
    assert page.input_value(box) == ""
    assert page.locator(sent).count() == 1

    counter = page.locator(f"{counter_scope} .composer-count")
    assert counter.is_hidden()
    limit = int(page.eval_on_selector(box, "node => node.maxLength"))
    page.fill(box, "x" * (limit - 10))
    counter.filter(has_text=f"{limit - 10} / {limit}").wait_for()
    page.fill(box, "short")
    counter.wait_for(state="hidden")


def test_the_widget_composer(acme, server, browser):
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.base}/widget/?site_key={acme.widget_key}")
    page.locator("#hd-status[data-online]").wait_for()  # welcomed
    check_composer(page, "#hd-input", "li.hd-msg--visitor", "#hd-form")
    page.fill("#hd-input", "x" * 3700)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "composer-widget-counter.png"))
    assert errors == []


@pytest.fixture
def vic_waits(acme):
    """A visitor's message waiting for Alice (made before Playwright runs: no database calls
    from inside its event loop)."""
    import uuid

    from helpdesk import services
    from tests.factories import VisitorFactory

    services.message_send_by_visitor(
        visitor=VisitorFactory(site=acme, name="Vic"), client_id=uuid.uuid4(), body="Hello?"
    )


def test_the_inbox_composer(alice, vic_waits, server, browser):
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.base}/inbox/")
    page.fill('input[name="username"]', "alice")
    page.fill('input[name="password"]', "pw-for-tests-1")
    page.click("#login-submit")
    page.locator("#conversation-list a.conv").first.click()
    page.locator("#thread-messages li.msg--visitor").first.wait_for()
    check_composer(page, "#reply-input", "#thread-messages li.msg--agent", "#reply-form")
    page.fill("#reply-input", "x" * 3700)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "composer-inbox-counter.png"))
    page.press("#reply-input", "Escape")  # back to the list, as before
    assert page.evaluate("document.activeElement.classList.contains('conv')")
    assert errors == []
