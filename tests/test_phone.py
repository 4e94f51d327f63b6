# ruff: noqa: F811  (the browser fixtures come from tests/test_browser.py)
"""Every screen on a phone and on a desktop, in English and in Chinese, in a real Chromium.

For each of 390x844 and 1440x900, in en-US and zh-CN (the browser's language, time zone and
Accept-Language): the login page, the inbox (list, thread, the details sheet and the menu on a
phone), the notification settings, the widget, the back office's index and reports. Each page
must not be wider than the screen (``document.scrollingElement.scrollWidth <= innerWidth``),
must show its key controls (Resolve, Send, the back control…) inside the viewport, must speak
the browser's language, and must have no serious or critical accessibility violation found by
axe-core (from the npm registry, node_modules/axe-core; evaluated in the page through the
DevTools protocol, which the page's CSP does not govern). On a phone every control of the
inbox and the widget is at least 44 px both ways. Screenshots go to test-artifacts/phone/.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.processes import ROOT
from tests.test_browser import browser, closed_today, server  # noqa: F401  (fixtures)

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-artifacts" / "phone"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not AXE.exists(), reason="axe-core is not installed (make test runs npm ci)"
    ),
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
# The browser's language and where the person is: times must be in their own zone.
PEOPLE = {
    "en": {"locale": "en-US", "timezone_id": "America/New_York"},
    "zh": {"locale": "zh-CN", "timezone_id": "Asia/Shanghai"},
}
WORDS = {
    "en": {"resolve": "Resolve", "send": "Send", "back": "We're back", "lang": "en"},
    "zh": {"resolve": "解决", "send": "发送", "back": "上线", "lang": "zh-hans"},
}


@pytest.fixture
def busy_day(acme, alice, closed_today):
    """Alice's open conversations, one from a visitor with a very long name who pasted a very
    long link, one in Chinese, one she answered; a manager, Mia; the team off duty now."""
    from django.contrib.auth import get_user_model

    from helpdesk import services
    from helpdesk.models import Conversation, Tag
    from tests.factories import VisitorFactory

    Tag.objects.create(name="Refund", color="#dc2626")
    made = {}
    for name, body in [
        (
            "Wilhelmina Featherstonehaugh-Smythe of Llanfairpwllgwyngyll",
            "https://example.com/orders/1042/tracking/" + "x" * 120,
        ),
        ("李雷", "你好 我的订单三天了还没到 能帮我查一下吗"),
        ("Walt", "Do you ship to Lyon?"),
    ]:
        visitor = VisitorFactory(site=acme, name=name, email=f"v{len(made)}@example.com")
        message = services.message_send_by_visitor(
            visitor=visitor, client_id=uuid.uuid4(), body=body
        ).message
        Conversation.objects.filter(pk=message.conversation_id).update(assigned_agent=alice)
        made[name] = Conversation.objects.get(pk=message.conversation_id)
    services.message_send_by_agent(
        agent=alice, conversation=made["Walt"], client_id=uuid.uuid4(), body="Yes, we do!"
    )
    get_user_model().objects.create_superuser("mia", "mia@example.com", "pw-for-tests-1")
    return made


def next_opening(zone: str) -> str:
    """When the closed_today team is next in (09:00 UTC, two days on), as the visitor's
    clock shows it."""
    now = datetime.now(UTC)
    opens = (now + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    return opens.astimezone(ZoneInfo(zone)).strftime("%H:%M")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def fits(target, what: str) -> None:
    """Nothing wider than the screen: the page never scrolls sideways."""
    width = target.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{what} is {width[0]} px wide on a {width[1]} px screen"


def in_view(target, *selectors: str) -> None:
    """Each control is shown, whole, inside the viewport (of its own frame)."""
    boxes = target.evaluate(
        """(selectors) => selectors.map((s) => {
             const node = document.querySelector(s);
             if (!node) return [s, "missing"];
             const r = node.getBoundingClientRect();
             const shown = node.checkVisibility({ visibilityProperty: true, opacityProperty: true });
             const inside = r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0 &&
               r.right <= innerWidth + 0.5 && r.bottom <= innerHeight + 0.5;
             return [s, shown && inside ? "ok" : `shown=${shown} box=${[r.left, r.top, r.right, r.bottom].map(Math.round)} viewport=${innerWidth}x${innerHeight}`];
           })""",
        list(selectors),
    )
    wrong = [b for b in boxes if b[1] != "ok"]
    assert not wrong, f"not in view: {wrong}"


def touch_targets(target, scope: str, exempt: str = "") -> None:
    """Every visible control in ``scope`` is at least 44x44 px (inline text links exempt)."""
    small = target.evaluate(
        """([scope, exempt]) => Array.from(document.querySelectorAll(
               `${scope} :is(button, select, input:not([type=hidden]), textarea, a.conv, .icon-btn)`))
             .filter((n) => n.checkVisibility() && !(exempt && n.matches(exempt)))
             .map((n) => [n.id || n.className || n.tagName, Math.round(n.getBoundingClientRect().width),
                          Math.round(n.getBoundingClientRect().height)])
             .filter(([, w, h]) => w < 44 || h < 44)""",
        [scope, exempt],
    )
    assert not small, f"touch targets under 44 px: {small}"


def speaks(target, language: str) -> None:
    assert target.evaluate("document.documentElement.lang") == WORDS[language]["lang"]


def axe(target, what: str, include: list[str] | None = None) -> None:
    """No serious or critical violation (axe-core, every rule it runs by default)."""
    target.evaluate(AXE.read_text() + "\n;true")
    found = target.evaluate(
        """async (include) => {
             const result = await axe.run(include ? { include: include.map((s) => [s]) } : document,
                                          { resultTypes: ["violations"] });
             return result.violations
               .filter((v) => v.impact === "serious" || v.impact === "critical")
               .map((v) => ({ rule: v.id, impact: v.impact, help: v.help,
                              nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(" ")}: ${n.failureSummary}`) }));
           }""",
        include,
    )
    assert not found, f"axe on {what}: " + json.dumps(found, ensure_ascii=False, indent=1)


def check(target, what: str, language: str, *controls: str) -> None:
    fits(target, what)
    speaks(target, language)
    if controls:
        in_view(target, *controls)
    axe(target, what)


@pytest.mark.parametrize("size", ["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_screen_fits_speaks_the_language_and_passes_axe(
    busy_day,
    server,
    browser,
    language,
    size,
):
    phone = size == "phone"
    viewport = PHONE if phone else DESKTOP
    words = WORDS[language]
    tag = f"{language}-{viewport['width']}"
    errors: list[str] = []

    def context():
        ctx = browser.new_context(
            viewport=viewport, is_mobile=phone, has_touch=phone, **PEOPLE[language]
        )
        ctx.on("weberror", lambda e: errors.append(str(e.error)))
        return ctx

    # The widget, on the demo page, for a visitor of the same language and place (first:
    # nobody is signed in, so the team is off duty and its hours say when it is back).
    visitor = context().new_page()
    visitor.goto(f"{server.base}/demo/")
    visitor.click("#hd-launcher")
    frame = next(f for f in visitor.frames if "/widget/" in f.url)
    status = frame.locator("#hd-status")
    when = next_opening(PEOPLE[language]["timezone_id"])
    status.filter(has_text=words["back"]).filter(has_text=when).wait_for()
    assert frame.locator("#hd-email-form").is_hidden()  # nothing written yet
    check(frame, "the widget", language, "#hd-input", "#hd-send")
    fits(visitor, "the demo page with the widget")
    in_view(visitor, "#hd-frame")
    if phone:
        touch_targets(frame, ".hd-app", exempt=".hd-link")
    shot(visitor, f"{tag}-widget")
    frame.fill("#hd-input", "Hello? Is my order on its way?" if language == "en" else "你好 在吗")
    frame.click("#hd-send")
    frame.locator('li.hd-msg--visitor[data-state="sent"]').wait_for()
    line = frame.locator("li.hd-msg--system")
    line.wait_for()
    # Said once: when the team is back is in the header, not again in the thread.
    assert when in status.inner_text() and when not in line.inner_text()
    frame.locator("#hd-email-form").wait_for()  # offered now that the visitor has written
    check(frame, "the widget after a first message", language, "#hd-email", "#hd-send")
    shot(visitor, f"{tag}-widget-offline")

    agent = context().new_page()
    # Sign in.
    agent.goto(f"{server.base}/inbox/")
    agent.locator("#login-submit").wait_for()
    check(agent, "the login page", language, "#id_username", "#id_password", "#login-submit")
    shot(agent, f"{tag}-login")
    agent.fill("#id_username", "alice")
    agent.fill("#id_password", "pw-for-tests-1")
    agent.click("#login-submit")
    agent.locator('#connection-state[data-state="online"]').wait_for()
    agent.locator("#conversation-list a.conv").nth(2).wait_for()

    # The list.
    if phone:
        check(agent, "the inbox list", language, "#menu-toggle", "#agent-status", "#center-q")
        touch_targets(agent, ".sidebar")
        assert not agent.locator("#thread").is_visible()  # one view at a time
    else:
        check(agent, "the inbox list", language, "#logout", "#notifications-link", "#center-q")
    shot(agent, f"{tag}-inbox-list")

    # The thread of the visitor with the long name and the long link.
    agent.locator("#conversation-list a.conv", has_text="Wilhelmina").click()
    agent.locator("#thread-messages li.msg--visitor").first.wait_for()
    agent.locator("#resolve-send", has_text=words["resolve"]).wait_for()
    agent.locator("#reply-send", has_text=words["send"]).wait_for()
    if phone:
        check(
            agent,
            "the inbox thread",
            language,
            "#thread-back",
            "#thread-title",
            "#resolve-send",
            "#details-toggle",
            "#reply-input",
            "#reply-send",
        )
        touch_targets(agent, ".thread")
        assert not agent.locator(".sidebar").is_visible()
    else:
        check(
            agent,
            "the inbox thread",
            language,
            "#thread-title",
            "#resolve-send",
            "#reply-input",
            "#reply-send",
            "#transfer-target",  # the details are a third column
        )
    shot(agent, f"{tag}-inbox-thread")

    if phone:
        # The visitor's details: a sheet, a dialog that gives the focus back when it closes.
        agent.click("#details-toggle")
        agent.locator('#details[role="dialog"]').wait_for()
        agent.wait_for_function("document.activeElement?.id === 'details-close'")
        agent.wait_for_timeout(250)  # the sheet's slide (0.2 s) before measuring it
        check(agent, "the details sheet", language, "#details-close", "#transfer-target")
        touch_targets(agent, "#details")
        shot(agent, f"{tag}-inbox-details")
        agent.keyboard.press("Escape")
        agent.wait_for_function("document.activeElement?.id === 'details-toggle'")
        # The header's actions, in a menu.
        agent.click("#menu-toggle")
        in_view(agent, "#notifications-link", "#logout")
        touch_targets(agent, "#topbar-menu", exempt=".agent-chip *")
        shot(agent, f"{tag}-inbox-menu")
        agent.keyboard.press("Escape")
        assert not agent.locator("#logout").is_visible()
        # Back to the list, on the conversation just left.
        agent.click("#thread-back")
        agent.locator("#conversation-list").wait_for()
        agent.wait_for_function(
            "document.activeElement?.classList.contains('conv') && "
            "document.activeElement.textContent.includes('Wilhelmina')"
        )
        assert not agent.locator("#thread").is_visible()

    # Notification settings.
    agent.goto(f"{server.base}/notifications/")
    agent.locator("#push-toggle:not([disabled])").wait_for()
    check(agent, "the notification settings", language, "#push-toggle")
    shot(agent, f"{tag}-notification-settings")

    # The back office: its index and the reports.
    manager = context().new_page()
    manager.goto(f"{server.base}/admin/")
    manager.fill("#id_username", "mia")
    manager.fill("#id_password", "pw-for-tests-1")
    manager.click('input[type="submit"]')
    manager.locator("#content-main").wait_for()
    fits(manager, "the back office index")
    speaks(manager, language)
    shot(manager, f"{tag}-admin-index")
    manager.goto(f"{server.base}/admin/reports/")
    manager.locator("#rp-conversations").wait_for()
    check(manager, "the reports", language)
    shot(manager, f"{tag}-reports")
    assert errors == []


@pytest.mark.parametrize("language", ["en", "zh"])
def test_nothing_overflows_from_360_to_430_px(busy_day, server, browser, language):
    """The phones people hold: every width from the smallest common one to the largest."""
    people = PEOPLE[language]
    visitor = browser.new_context(viewport={"width": 360, "height": 740}, **people).new_page()
    visitor.goto(f"{server.base}/demo/")
    visitor.click("#hd-launcher")
    frame = next(f for f in visitor.frames if "/widget/" in f.url)
    frame.locator("#hd-status").filter(has_text=WORDS[language]["back"]).wait_for()
    agent = browser.new_context(viewport={"width": 360, "height": 740}, **people).new_page()
    agent.goto(f"{server.base}/inbox/")
    agent.fill("#id_username", "alice")
    agent.fill("#id_password", "pw-for-tests-1")
    agent.click("#login-submit")
    agent.locator("#conversation-list a.conv").nth(2).wait_for()
    for width in (360, 375, 390, 414, 430):
        for page in (visitor, agent):
            page.set_viewport_size({"width": width, "height": 740})
        agent.goto(f"{server.base}/inbox/")
        agent.locator("#conversation-list a.conv").nth(2).wait_for()
        fits(agent, f"the inbox list at {width} px")
        agent.locator("#conversation-list a.conv", has_text="Wilhelmina").click()
        agent.locator("#thread-messages li.msg--visitor").first.wait_for()
        fits(agent, f"the inbox thread at {width} px")
        in_view(agent, "#thread-back", "#resolve-send", "#details-toggle", "#reply-send")
        fits(visitor, f"the demo page at {width} px")
        fits(frame, f"the widget at {width} px")
        in_view(frame, "#hd-input", "#hd-send", "#hd-close")


def test_a_reply_reaches_the_closed_widget_as_a_preview_with_its_author(
    busy_day,
    server,
    browser,
):
    """The launcher shows who replied and what, not only a count; the reply in the thread
    carries the agent's name and initials; the email-confirmed page leads back to the chat."""
    from tests.test_browser import login

    visitor = browser.new_page(viewport=DESKTOP)
    visitor.goto(f"{server.base}/demo/")
    visitor.click("#hd-launcher")
    frame = visitor.frame_locator("#hd-frame")
    frame.locator("#hd-input").fill("Can I change my delivery address?")
    frame.locator("#hd-send").click()
    frame.locator('li.hd-msg--visitor[data-state="sent"]').wait_for()
    visitor.click("#hd-launcher")  # closes the chat

    agent = login(browser, server, "alice")
    agent.locator("#conversation-list a.conv", has_text="delivery address").click()
    agent.fill("#reply-input", "Of course! What is the new address?")
    agent.click("#reply-send")

    preview = visitor.locator("#hd-preview")
    preview.filter(has_text="Alice").filter(has_text="What is the new address?").wait_for()
    assert visitor.locator("#hd-badge").inner_text() == "1"
    assert visitor.get_attribute("#hd-launcher", "aria-label") == "Chat with us: 1 unread reply"
    axe(visitor, "the launcher and its preview", include=["#hd-launcher", "#hd-preview"])
    shot(visitor, "en-1440-launcher-preview")
    visitor.click("#hd-preview-open")  # opens the chat at the reply
    reply = frame.locator("li.hd-msg--agent", has_text="new address")
    reply.wait_for()
    assert reply.locator(".hd-name").inner_text() == "Alice"
    assert reply.locator(".hd-agent-avatar").inner_text() == "A"
    assert preview.is_hidden()


@pytest.fixture
def confirm_link(acme):
    """What the confirmation email links to, for Vic who wrote from a shop's product page."""
    from django.core import signing

    from notifications.services import VERIFY_SALT
    from tests.factories import VisitorFactory

    vic = VisitorFactory(site=acme, email="vic@example.com", page_url="https://shop.example/p/1")
    return (
        "/v/verify/" + signing.dumps({"v": vic.pk.hex, "h": vic.email_hash}, salt=VERIFY_SALT) + "/"
    )


def test_the_email_confirmed_page_leads_back_to_the_chat(
    acme,
    confirm_link,
    server,
    browser,
):
    page = browser.new_page(viewport=PHONE, locale="zh-CN")
    page.goto(f"{server.base}{confirm_link}")
    page.locator("h1", has_text="邮箱已确认").wait_for()
    assert page.get_attribute("#back-to-chat", "href") == "https://shop.example/p/1"
    assert page.get_attribute("#open-chat", "href") == f"/widget/?site_key={acme.widget_key}"
    check(page, "the email-confirmed page", "zh", "#back-to-chat")
    shot(page, "zh-390-email-confirmed")


def test_the_installed_app_shows_its_offline_page_without_a_network(
    acme,
    alice,
    server,
    browser,
):
    """The staff service worker keeps an offline shell; its push handling stays."""
    from tests.test_browser import login

    page = login(browser, server, "alice")
    manifest = page.evaluate(
        "fetch(document.querySelector('link[rel=manifest]').href).then((r) => r.json())"
    )
    assert manifest["start_url"] == "/inbox/" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"}
    assert any(i.get("purpose") == "maskable" for i in manifest["icons"])
    for icon in manifest["icons"]:
        assert page.request.get(f"{server.base}{icon['src']}").ok
    # The worker is installed and active, its shell cached.
    page.wait_for_function(
        """async () => {
             const reg = await navigator.serviceWorker.getRegistration("/");
             return !!reg?.active && (await caches.keys()).some((k) => k.startsWith("helpdesk-shell-"));
           }"""
    )
    page.context.set_offline(True)
    page.reload()
    page.locator("#offline-title").wait_for()
    assert re.search(r"/inbox/$", page.url)  # still where the agent was
    in_view(page, "#offline-retry")
    page.context.set_offline(False)  # back online: the page goes back to the inbox by itself
    page.locator('#connection-state[data-state="online"]').wait_for()
