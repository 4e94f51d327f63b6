"""Real browser: a visitor writes on the demo page while no agent is online; Alice logs in,
finds it in her message center, replies; the visitor sees the reply live.

Playwright drives Debian's Chromium (/usr/bin/chromium); nothing is downloaded.
Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from notifications import vapid
from tests.factories import VisitorFactory
from tests.processes import ROOT, Server, database_url_for, server_env
from tests.pushservice import Browser

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
    keys = vapid.generate()
    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        CELERY_TASK_ALWAYS_EAGER="true",
        DB_CONN_MAX_AGE="0",
        STATIC_ROOT=str(tmp_path / "static"),
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
        VAPID_PUBLIC_KEY=keys[0],
        VAPID_PRIVATE_KEY=keys[1],
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
    # Captured, so pytest shows it only when the test failed: the server's side of the story.
    print("server log (last 4000 characters):", s.log.read_text(errors="replace")[-4000:])


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
    for text in (
        "Hello, is anyone there?",
        "My order #1042 has not arrived. <img src=x onerror=window.__xss=1>",
    ):
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
    # Markup in a message is text, wherever it is shown.
    bubble = agent.locator("#thread-messages li.msg--visitor .msg-bubble").nth(1)
    assert bubble.inner_text().endswith("<img src=x onerror=window.__xss=1>")
    assert agent.locator("#thread-messages img").count() == 0
    assert agent.evaluate("window.__xss") is None and visitor.evaluate("window.__xss") is None
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
    # The widget is open on the visitor's screen: Alice sees her reply was seen.
    agent.locator("#thread-messages li.msg--agent .msg-receipt--seen", has_text="Seen").wait_for()
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


# The browser's own push service (FCM for Chromium) is outside our walls and out of reach
# here, so PushManager is replaced by a stand-in that hands the page a subscription with real
# keys; everything on our side of it runs for real: the permission, the service worker, the
# page's save to the API, and the service worker showing a pushed payload.
FAKE_PUSH_MANAGER = """
(() => {
  const KEY = "fake-push-subscription";
  const make = (saved) => saved && ({
    endpoint: saved.endpoint,
    options: { applicationServerKey: new Uint8Array(saved.key).buffer },
    toJSON() { return { endpoint: saved.endpoint, keys: saved.keys }; },
    async unsubscribe() { localStorage.removeItem(KEY); return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    const saved = { ...window.__fakePush, key: Array.from(new Uint8Array(options.applicationServerKey)) };
    localStorage.setItem(KEY, JSON.stringify(saved));
    return make(saved);
  };
  PushManager.prototype.getSubscription = async function () {
    return make(JSON.parse(localStorage.getItem(KEY) || "null"));
  };
})();
"""


def fake_push(context, endpoint: str) -> None:
    subscription = Browser(endpoint).subscription()
    context.add_init_script(f"window.__fakePush = {json.dumps(subscription)};")
    context.add_init_script(FAKE_PUSH_MANAGER)


def deliver_push(page, scope: str, payload: dict) -> dict:
    """Hand the service worker of ``scope`` a push (Chrome DevTools Protocol), and return the
    notification it shows.

    It waits until CDP reports the registration's worker version activated, and delivers
    again (same payload, same tag: one notification) if none shows within 5 s: a push
    handed to a worker that was still starting could be dropped."""
    cdp = page.context.new_cdp_session(page)
    registrations: dict[str, str] = {}
    activated: set[str] = set()
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.update(
            {r["scopeURL"]: r["registrationId"] for r in e["registrations"] if not r["isDeleted"]}
        ),
    )
    cdp.on(
        "ServiceWorker.workerVersionUpdated",
        lambda e: activated.update(
            v["registrationId"] for v in e["versions"] if v["status"] == "activated"
        ),
    )
    cdp.send("ServiceWorker.enable")
    page.wait_for_function(  # the worker is active (and CDP has told us about it)
        "async (scope) => !!(await navigator.serviceWorker.getRegistration(scope))?.active",
        arg=scope,
    )
    deadline = time.monotonic() + 10
    while scope not in registrations or registrations[scope] not in activated:
        assert time.monotonic() < deadline, (
            f"CDP never reported {scope} activated: {registrations}, activated {activated}"
        )
        page.wait_for_timeout(50)  # lets Playwright dispatch the CDP events that arrived
    origin = scope.split("/", 3)
    for _attempt in range(3):
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": f"{origin[0]}//{origin[2]}",
                "registrationId": registrations[scope],
                "data": json.dumps(payload),
            },
        )
        # Wait (in the page, up to 5 s) for the notification the worker shows.
        shown = page.evaluate(
            """async (scope) => {
                 const reg = await navigator.serviceWorker.getRegistration(scope);
                 for (let i = 0; i < 100; i++) {
                   const [n] = await reg.getNotifications();
                   if (n) return { title: n.title, body: n.body, tag: n.tag, url: n.data.url };
                   await new Promise((resolve) => setTimeout(resolve, 50));
                 }
                 return null;
               }""",
            scope,
        )
        if shown is not None:
            return shown
    raise AssertionError(
        f"no notification after 3 pushes to {scope} (registration {registrations[scope]})"
    )


def test_alice_turns_on_push_and_her_service_worker_shows_a_reminder(
    acme, alice, alices_day, server, browser
):
    walt = str(alices_day["Walt"].pk)
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    context.grant_permissions(["notifications"], origin=server.base)
    fake_push(context, "https://fcm.googleapis.com/fcm/send/alice-laptop")
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.base}/notifications/")
    page.fill('input[name="username"]', "alice")
    page.fill('input[name="password"]', "pw-for-tests-1")
    page.click("#login-submit")
    page.locator("#push-toggle", has_text="Turn on push").click()
    page.locator("#push-state", has_text="Push is on for this browser.").wait_for()
    page.reload()
    page.locator("text=1 browser of yours receives push.").wait_for()
    page.locator("#push-toggle", has_text="Turn off on this browser").wait_for()
    shot(page, "10-notification-settings")

    shown = deliver_push(
        page,
        f"{server.base}/",
        {
            "title": "1 conversation waiting for your reply",
            "body": "Vic: Where is my parcel?",
            "url": f"{server.base}/inbox/",
            "tag": "helpdesk-agent_unread",
            "conversations": [walt],
        },
    )
    assert shown == {
        "title": "1 conversation waiting for your reply",
        "body": "Vic: Where is my parcel?",
        "tag": "helpdesk-agent_unread",
        "url": f"{server.base}/inbox/",
    }
    # Reading the conversation (here, or on any of her devices) clears the notification.
    inbox = context.new_page()
    inbox.goto(f"{server.base}/inbox/{walt}/")
    inbox.locator("#thread-messages li.msg--visitor").first.wait_for()
    assert inbox.evaluate(
        """async () => {
             const reg = await navigator.serviceWorker.getRegistration("/");
             for (let i = 0; i < 200; i++) {
               if (!(await reg.getNotifications()).length) return true;
               await new Promise((resolve) => setTimeout(resolve, 50));
             }
             return false;
           }"""
    )
    inbox.close()
    page.locator("#push-toggle").click()  # and off again: the server forgets this browser
    page.locator("#push-state", has_text="Push is off for this browser.").wait_for()
    page.reload()
    page.locator("text=0 browsers of yours receive push.").wait_for()
    assert errors == []


def test_a_visitor_rings_the_bell_and_gets_replies_pushed(acme, server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["notifications"], origin=server.base)
    fake_push(context, "https://fcm.googleapis.com/fcm/send/vic-phone")
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.base}/demo/")
    page.click("#hd-launcher")
    frame = page.frame_locator("#hd-frame")
    frame.locator("#hd-input").fill("Tell me when you reply, please.")
    frame.locator("#hd-send").click()
    frame.locator('li.hd-msg--visitor[data-state="sent"]').wait_for()
    frame.locator('#hd-bell[aria-pressed="false"]').click()
    frame.locator('#hd-bell[aria-pressed="true"]').wait_for()
    shot(page, "11-visitor-bell-on")
    widget = next(f for f in page.frames if "/widget/" in f.url)
    shown = deliver_push(
        widget.page,
        f"{server.base}/widget/",
        {"title": "Acme replied", "body": "It ships today.", "url": f"{server.base}/r/x/"},
    )
    assert shown["title"] == "Acme replied" and shown["body"] == "It ships today."
    page.reload()  # the bell remembers: the subscription is re-saved, still on
    page.click("#hd-launcher")
    page.frame_locator("#hd-frame").locator('#hd-bell[aria-pressed="true"]').wait_for()
    assert errors == []


@pytest.fixture
def alices_day(acme, alice):
    """Three visitors waiting on Alice, one she answered; tags the managers defined."""
    import uuid as uuid_

    from helpdesk import services
    from helpdesk.models import Conversation, Tag

    Tag.objects.create(name="VIP", color="#d97706")
    Tag.objects.create(name="Refund", color="#dc2626")
    made = {}
    for name, body in [
        ("Vera", "Is the oak table in stock?"),
        ("Walt", "I need a refund for order 77."),
        ("Xena", "Do you ship to Lyon?"),
        ("Yuri", "Thanks for the help!"),
    ]:
        visitor = VisitorFactory(site=acme, name=name, email=f"{name.lower()}@example.com")
        msg = services.message_send_by_visitor(
            visitor=visitor, client_id=uuid_.uuid4(), body=body
        ).message
        Conversation.objects.filter(pk=msg.conversation_id).update(assigned_agent=alice)
        made[name] = Conversation.objects.get(pk=msg.conversation_id)
    services.message_send_by_agent(
        agent=alice, conversation=made["Yuri"], client_id=uuid_.uuid4(), body="Any time!"
    )
    return made


def shows(page, *expected: str) -> None:
    """Wait until the conversation list shows exactly these visitors, in this order."""
    page.wait_for_function(
        """(expected) => JSON.stringify(Array.from(
             document.querySelectorAll("#conversation-list a.conv .conv-name"),
             (n) => n.textContent)) === JSON.stringify(expected)""",
        arg=list(expected),
    )


def test_alice_filters_searches_and_tags_in_her_message_center(
    acme, alice, alices_day, server, browser
):
    page = login(browser, server, "alice")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    unread = page.locator(".state-chip", has_text="Unread")
    unread.locator(".count", has_text="3").wait_for()
    page.locator(".state-chip", has_text="Replied").locator(".count", has_text="1").wait_for()
    unread.click()
    shows(page, "Vera", "Walt", "Xena")  # equal priority: the longest wait first

    page.locator("#conversation-list a.conv", has_text="Walt").click()
    page.select_option("#tag-add", label="Refund")
    page.locator("#thread-tag-list .tag-chip", has_text="Refund").wait_for()
    # Reading Walt's conversation moved it out of "Unread", live, with the counts.
    shows(page, "Vera", "Xena")
    unread.locator(".count", has_text="2").wait_for()
    page.locator(".state-chip", has_text="To answer").locator(".count", has_text="1").wait_for()

    page.locator(".state-chip", has_text="Open").click()
    shows(page, "Vera", "Walt", "Xena", "Yuri")
    page.locator("#conversation-list a.conv", has_text="Walt").locator(
        ".tag-chip", has_text="Refund"
    ).wait_for()
    page.fill("#center-q", "refund")  # a tag's name
    shows(page, "Walt")
    page.fill("#center-q", "xena@example.com")  # an email
    shows(page, "Xena")
    page.fill("#center-q", "")
    shows(page, "Vera", "Walt", "Xena", "Yuri")
    page.select_option("#center-tag", label="Refund")
    shows(page, "Walt")
    page.select_option("#center-tag", label="All tags")
    shows(page, "Vera", "Walt", "Xena", "Yuri")
    shot(page, "12-message-center")
    assert errors == []


@pytest.fixture
def closed_today(support):
    """Support's hours: only two days from now, so right now the team is off duty."""
    from datetime import time as clock

    from django.utils import timezone

    from helpdesk.models import AgentGroup
    from routing.models import OpeningPeriod, Schedule

    hours = Schedule.objects.create(name="Weekdays", timezone="UTC")
    OpeningPeriod.objects.create(
        schedule=hours,
        weekday=(timezone.now().weekday() + 2) % 7,
        opens=clock(9),
        closes=clock(17),
    )
    AgentGroup.objects.filter(pk=support.pk).update(business_hours=hours)


@pytest.fixture
def shop(tmp_path, acme, server):
    """Acme's own web shop: another origin than the helpdesk, embedding the widget with its
    script tag, and listed as the site's only allowed origin."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from tests.processes import free_port

    root = tmp_path / "shop"
    root.mkdir()
    port = free_port()
    (root / "index.html").write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Acme shop</title>"
        "<style>body{font-family:sans-serif;margin:40px;background:#fafaf9}</style></head>"
        "<body><h1>Acme garden shop</h1><p>Spades, rakes and seeds. Questions? Ask us.</p>"
        f"<script src='{server.base}/static/helpdesk/embed.js' "
        f"data-site-key='{acme.widget_key}' async></script></body></html>"
    )
    acme.allowed_origins = f"http://localhost:{port}"
    acme.save(update_fields=["allowed_origins"])
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://localhost:{port}/"
    httpd.shutdown()


def test_the_whole_story_on_a_third_party_shop(acme, alice, closed_today, shop, server, browser):
    errors: list[str] = []
    visitor_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    visitor = visitor_ctx.new_page()
    visitor.on("pageerror", lambda e: errors.append(str(e)))
    visitor.goto(shop)
    assert not shop.startswith(server.base)  # another origin than the helpdesk
    visitor.click("#hd-launcher")
    frame = visitor.frame_locator("#hd-frame")
    # 1. Nobody on duty: the visitor is told when the team is back, in their own time.
    frame.locator("#hd-status", has_text="We're back").wait_for()
    # The email field waits for the visitor's first message.
    assert frame.locator("#hd-email-form").is_hidden()
    for text in ("Do you sell rakes for children?", "Size 1 would be great."):
        frame.locator("#hd-input").fill(text)
        frame.locator("#hd-send").click()
    frame.locator('li.hd-msg--visitor[data-state="sent"]').nth(1).wait_for()
    frame.locator("#hd-email").fill("vic@example.com")
    frame.locator("#hd-email-send").click()
    frame.locator("#hd-email-status", has_text="Check your inbox").wait_for()
    shot(visitor, "13-shop-offline")

    # 2. Alice signs in: the conversation waits in her message center, unread.
    agent_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    tab_a = agent_ctx.new_page()
    tab_a.on("pageerror", lambda e: errors.append(str(e)))
    tab_a.goto(f"{server.base}/inbox/")
    tab_a.fill('input[name="username"]', "alice")
    tab_a.fill('input[name="password"]', "pw-for-tests-1")
    tab_a.click("#login-submit")
    row_a = tab_a.locator("#conversation-list a.conv").first
    row_a.locator(".conv-unread", has_text="2").wait_for()
    tab_a.locator(".state-chip", has_text="Unread").locator(".count", has_text="1").wait_for()
    # 5. Her second tab shows the same, and follows when the first one reads.
    tab_b = agent_ctx.new_page()
    tab_b.goto(f"{server.base}/inbox/")
    row_b = tab_b.locator("#conversation-list a.conv").first
    row_b.locator(".conv-unread", has_text="2").wait_for()
    row_a.click()
    tab_a.locator("#thread-messages li.msg--visitor").nth(1).wait_for()
    row_b.locator(".conv-unread").wait_for(state="detached")
    frame.locator('li.hd-msg--visitor[data-state="seen"]').nth(1).wait_for()  # "Seen" for Vic
    tab_b.locator(".state-chip", has_text="Unread").locator(".count", has_text="0").wait_for()
    shot(tab_b, "14-second-tab-follows")

    # 3. Her reply reaches the open widget live; with the widget closed, the launcher counts.
    tab_a.fill("#reply-input", "Yes! Size 1 is in stock.")
    tab_a.click("#reply-send")
    frame.locator("li.hd-msg--agent", has_text="Size 1 is in stock").wait_for()
    visitor.click("#hd-launcher")  # closes the widget
    tab_a.fill("#reply-input", "Shall I put one aside for you?")
    tab_a.click("#reply-send")
    visitor.locator("#hd-badge", has_text="1").wait_for()
    shot(visitor, "15-shop-unread-badge")

    # 4. The visitor closes the tab and comes back later: the whole conversation is there.
    visitor.close()
    later = visitor_ctx.new_page()
    later.on("pageerror", lambda e: errors.append(str(e)))
    later.goto(shop)
    later.click("#hd-launcher")
    frame = later.frame_locator("#hd-frame")
    frame.locator("li.hd-msg--agent", has_text="put one aside").wait_for()
    texts = frame.locator("li.hd-msg").all_inner_texts()
    for said in ("rakes for children", "Size 1 would be great", "in stock", "put one aside"):
        assert sum(said in t for t in texts) == 1, (said, texts)
    shot(later, "16-shop-history-after-return")
    assert errors == []


@pytest.fixture
def mia(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("mia", "mia@example.com", "pw-for-tests-1")


def test_a_manager_opens_the_reports(acme, alice, alices_day, mia, server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.base}/admin/")
    page.fill('input[name="username"]', "mia")
    page.fill('input[name="password"]', "pw-for-tests-1")
    page.click('input[type="submit"]')
    page.click("text=Reports")
    page.locator("#rp-conversations", has_text="4").wait_for()
    assert page.locator("svg.rp-chart rect.rp-bar").count() == 28  # the last four weeks
    assert "Alice" in page.locator("#rp-agents").inner_text()
    shot(page, "17-manager-reports")
    assert errors == []
