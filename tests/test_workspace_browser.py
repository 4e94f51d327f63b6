# ruff: noqa: F811  (the browser fixtures come from tests/test_browser.py)
"""The agent's workspace in a real Chromium: the visitor beside the thread, files both ways,
saved replies with "/", internal notes with a mention, typing both ways, resolve and reopen,
snooze, claim from Unassigned and search over message text, with the widget on the other side.

People: Alice and Bob (Support, Acme's team). Both are *away* when they sign in, so a new
conversation waits in the queue for Alice to claim (an available agent would be handed it).
Screenshots go to test-artifacts/workspace/ (English and Chinese, phone and desktop), and
axe-core checks each new state (tests/test_phone.py).
"""

from __future__ import annotations

import io
import re
import uuid

import pytest
from PIL import Image

from tests.processes import ROOT
from tests.test_browser import browser, server  # noqa: F401  (fixtures)
from tests.test_phone import AXE, DESKTOP, PEOPLE, PHONE, axe, fits

SHOTS = ROOT / "test-artifacts" / "workspace"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not AXE.exists(), reason="axe-core is not installed (make test runs npm ci)"
    ),
]


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def screenshot_png(width: int = 640, height: int = 400) -> bytes:
    """A "screenshot": a window with a red error banner, as a visitor would paste one."""
    image = Image.new("RGB", (width, height), (248, 250, 252))
    for y in range(40):
        for x in range(width):
            image.putpixel((x, y), (37, 99, 235))
    for y in range(120, 170):
        for x in range(60, width - 60):
            image.putpixel((x, y), (220, 38, 38))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def workday(acme, alice, bob):
    """Alice is away (new work waits in the queue); a saved reply of the team's; a tag."""
    from helpdesk.models import Agent, SavedReply, Tag

    Agent.objects.filter(pk__in=[alice.pk, bob.pk]).update(status="away")
    SavedReply.objects.create(
        title="Refund timing",
        body="Hi {visitor_name}, refunds reach your card within 5 days. — {agent_name}",
        shortcut="refund",
        owner=alice.user,
    )
    Tag.objects.create(name="Refund", color="#dc2626")
    return acme


def sign_in(browser, server, username: str, viewport=DESKTOP, **people):
    page = browser.new_page(viewport=viewport, **people)
    page.goto(f"{server.base}/inbox/")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', "pw-for-tests-1")
    page.click("#login-submit")
    page.locator('#connection-state[data-state="online"]').wait_for()
    return page


def paste_file(frame, selector: str, name: str, kind: str, data: bytes) -> None:
    """A file pasted into a text box, as the clipboard hands a screenshot over."""
    frame.locator(selector).evaluate(
        """(box, [name, kind, bytes]) => {
             const file = new File([new Uint8Array(bytes)], name, { type: kind });
             const data = new DataTransfer();
             data.items.add(file);
             box.focus();
             box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
           }""",
        [name, kind, list(data)],
    )


def image_loaded(locator) -> None:
    """The picture arrived and decoded (not a broken image)."""
    locator.wait_for()
    locator.page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=locator.element_handle()
    )


def test_an_agent_works_a_conversation_from_the_queue_to_resolved(workday, server, browser):
    errors: list[str] = []
    visitor = browser.new_page(
        viewport=DESKTOP, **PEOPLE["en"] | {"timezone_id": "America/Toronto"}
    )
    visitor.on("pageerror", lambda e: errors.append(f"visitor: {e}"))
    visitor.goto(f"{server.base}/demo/", referer="https://www.google.com/")
    visitor.click("#hd-launcher")
    frame = visitor.frame_locator("#hd-frame")
    frame.locator("#hd-input").fill("Hello, I want a refund for order 1042: it arrived broken.")
    frame.locator("#hd-send").click()
    frame.locator('li.hd-msg--visitor[data-state="sent"]').wait_for()

    alice = sign_in(browser, server, "alice")
    alice.on("pageerror", lambda e: errors.append(f"alice: {e}"))
    bob = sign_in(browser, server, "bob")
    bob.on("pageerror", lambda e: errors.append(f"bob: {e}"))

    # Unassigned: the visitor waits there (Alice is away); she opens it and claims it.
    alice.click('.scope-tab[data-scope="queue"]')
    row = alice.locator("#conversation-list a.conv", has_text="refund for order 1042")
    row.locator(".conv-state--queue").wait_for()
    row.click()
    banner = alice.locator('#thread-banner[data-kind="queue"]')
    banner.wait_for()
    alice.click("#claim")
    banner.wait_for(state="hidden")
    assert alice.locator("#claim").is_hidden()
    alice.click('.scope-tab[data-scope="mine"]')  # it left the queue: it is hers now
    alice.locator("#conversation-list a.conv", has_text="refund for order 1042").wait_for()

    # The visitor beside the thread: the page (with its title) and where they came from, the
    # time zone with the local time now, the device.
    panel = alice.locator("#visitor-panel")
    panel.locator(".vp-facts", has_text="America/Toronto").wait_for()
    assert re.search(r"\d\d:\d\d · America/Toronto", panel.inner_text())
    panel.locator(".vp-pages .is-current", has_text="Demo store").wait_for()
    assert "google.com" in panel.locator(".vp-referrer").inner_text()
    device = panel.locator(".vp-facts div", has_text="Device").inner_text()
    assert "Chrome" in device and "Linux" in device, device
    panel.locator(".vp-online.is-online").wait_for()
    # An agent corrects the name and email: the list says so at once.
    alice.click("#vp-edit")
    alice.fill("#vp-email-input", "not an address")
    alice.click("#vp-save")
    alice.locator("#vp-error", has_text="does not look right").wait_for()
    alice.fill("#vp-name-input", "Dana Scully")
    alice.fill("#vp-email-input", "dana@example.com")
    alice.click("#vp-save")
    panel.locator(".vp-name", has_text="Dana Scully").wait_for()
    panel.locator(".vp-badge--no", has_text="Not confirmed").wait_for()
    alice.locator("#conversation-list a.conv .conv-name", has_text="Dana Scully").wait_for()
    alice.locator("#thread-title", has_text="Dana Scully").wait_for()

    # Typing, both ways.
    frame.locator("#hd-input").press_sequentially("It is the blue", delay=30)
    alice.locator("#thread-typing", has_text="Dana Scully is typing").wait_for()
    alice.locator("#reply-input").press_sequentially("Let me check", delay=30)
    frame.locator("#hd-typing", has_text="Alice is typing").wait_for()
    alice.fill("#reply-input", "")
    alice.locator("#reply-input").dispatch_event("input")
    frame.locator("#hd-input").fill("")

    # The visitor pastes a screenshot; it goes as a file-only message.
    paste_file(frame, "#hd-input", "screenshot.png", "image/png", screenshot_png())
    frame.locator('#hd-tray .att-chip[data-state="done"]').wait_for()
    frame.locator("#hd-send").click()
    sent = frame.locator('li.hd-msg--visitor[data-state="sent"] .att-image img')
    image_loaded(sent)
    # The agent sees it inline, and opens the whole picture.
    thumb = alice.locator("#thread-messages li.msg--visitor .att-image img")
    image_loaded(thumb)
    thumb.click()
    whole = alice.locator(".att-viewer[open] .att-viewer-img")
    image_loaded(whole)
    assert whole.evaluate("(img) => img.naturalWidth") == 640
    alice.keyboard.press("Escape")
    alice.locator(".att-viewer[open]").wait_for(state="detached")

    # Bad files: a forbidden type and one too large are refused, said clearly, and sent nowhere.
    visitor_messages = frame.locator("li.hd-msg--visitor").count()
    frame.locator("#hd-file").set_input_files(
        [
            {"name": "evil.svg", "mimeType": "image/svg+xml", "buffer": b"<svg onload=alert(1)/>"},
            {
                "name": "huge.pdf",
                "mimeType": "application/pdf",
                "buffer": b"%PDF" + b"0" * (10 * 1024 * 1024),
            },
        ]
    )
    frame.locator('.att-chip[data-state="failed"]', has_text="not accepted").wait_for()
    frame.locator('.att-chip[data-state="failed"]', has_text="at most 10 MB").wait_for()
    frame.locator("#hd-send").click()  # nothing ready to go, no text: nothing is sent
    assert frame.locator("li.hd-msg--visitor").count() == visitor_messages
    while frame.locator(".att-chip-remove").count():
        frame.locator(".att-chip-remove").first.click()
    frame.locator("#hd-tray").wait_for(state="hidden")

    # Alice sends a file back, with a saved reply inserted with "/" (placeholders filled).
    alice.locator("#reply-file").set_input_files(
        [
            {
                "name": "return-label.pdf",
                "mimeType": "application/pdf",
                "buffer": b"%PDF-1.4\n" + b"x" * 2048,
            }
        ]
    )
    alice.locator('#reply-tray .att-chip[data-state="done"]').wait_for()
    alice.locator("#reply-input").press_sequentially("/refu", delay=30)
    picker = alice.locator("#picker")
    picker.locator(".pick", has_text="Refund timing").wait_for()
    shot(alice, "en-1440-reply-picker")
    axe(alice, "the saved-reply picker")
    alice.keyboard.press("Enter")
    assert alice.input_value("#reply-input") == (
        "Hi Dana Scully, refunds reach your card within 5 days. — Alice"
    )
    alice.click("#reply-send")
    download = frame.locator("li.hd-msg--agent .att-file", has_text="return-label.pdf")
    download.wait_for()
    assert re.search(r"2(\.\d)? KB", download.inner_text())
    frame.locator("li.hd-msg--agent", has_text="refunds reach your card").wait_for()

    # An internal note mentioning Bob: Bob is told in his inbox; the visitor never sees it.
    alice.click("#mode-note")
    alice.locator("#reply-input").press_sequentially("@Bo", delay=30)
    picker.locator(".pick", has_text="Bob").wait_for()
    alice.keyboard.press("Enter")
    alice.locator("#reply-input").press_sequentially("can you check the depot for 1042?", delay=5)
    alice.keyboard.press("Enter")
    note = alice.locator("#thread-messages li.msg--note[data-id]")
    note.locator(".mention", has_text="@Bob").wait_for()
    assert note.locator(".note-label").text_content() == "Internal note"
    shot(alice, "en-1440-note")
    axe(alice, "a thread with a note")
    toast = bob.locator(".mention-toast", has_text="Alice mentioned you")
    toast.wait_for()
    assert "depot" in toast.inner_text()
    toast.locator(".mention-open").click()
    bob.locator("#thread-messages li.msg--note", has_text="depot").wait_for()
    frame.locator("li.hd-msg--agent", has_text="refunds reach").wait_for()
    assert "depot" not in frame.locator("#hd-messages").inner_text()
    alice.click("#mode-reply")

    # Search finds the message text, and opens the conversation at it.
    alice.fill("#center-q", "refund")
    hit = alice.locator(".search-hits .hit", has_text="order 1042")
    hit.wait_for()
    alice.fill("#center-q", "zebracorn")
    alice.locator(".conv-empty", has_text="Nothing matched").wait_for()
    alice.fill("#center-q", "refund")
    hit.click()
    alice.locator("#thread-messages li.is-found", has_text="order 1042").wait_for()
    alice.fill("#center-q", "")

    # Resolve: the thread says so, the composer is off; Reopen brings it back.
    alice.click("#resolve-send")
    resolved = alice.locator('#thread-banner[data-kind="resolved"]')
    resolved.wait_for()
    assert alice.locator("#reply-input").is_disabled()
    frame.locator("li.hd-msg--system", has_text="closed").wait_for()
    resolved.locator("button", has_text="Reopen").click()
    resolved.wait_for(state="hidden")
    assert alice.locator("#reply-input").is_enabled()

    # Snooze for an hour: it leaves the open list, the banner says until when; wake it.
    alice.click("#more-toggle")
    alice.click("#snooze-hour")
    snoozed = alice.locator('#thread-banner[data-kind="snoozed"]')
    snoozed.wait_for()
    alice.locator("#conversation-list a.conv", has_text="Dana Scully").wait_for(state="detached")
    alice.click('.state-chip[data-state="snoozed"]')
    alice.locator("#conversation-list a.conv", has_text="Dana Scully").wait_for()
    snoozed.locator("button").click()
    snoozed.wait_for(state="hidden")
    assert errors == []


@pytest.fixture
def dressed(acme, alice, bob):
    """For the screenshots: Alice's conversation with Dana, who sent a screenshot from her
    cart; Alice's note to Bob; a saved reply. Made through the services, as the sockets do."""
    from helpdesk import services
    from helpdesk.files import Upload
    from helpdesk.models import Conversation, SavedReply, Tag
    from helpdesk.services.attachments import attachment_upload
    from tests.factories import VisitorFactory

    dana = VisitorFactory(
        site=acme,
        name="Dana Scully",
        email="dana@example.com",
        timezone="America/Toronto",
        language="en-CA",
        page_url="https://shop.example.com/cart",
        pages=[
            {
                "url": "https://shop.example.com/cart",
                "title": "Your cart",
                "at": "2026-01-05T14:02:11Z",
            },
            {
                "url": "https://shop.example.com/p/blue-lamp",
                "title": "Blue lamp",
                "at": "2026-01-05T13:58:40Z",
            },
        ],
        referrer="https://www.google.com/",
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
        " (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        attributes={"plan": "Pro", "orders": "12"},
    )
    first = services.message_send_by_visitor(
        visitor=dana, client_id=uuid.uuid4(), body="Hi! My lamp arrived broken, can I get a refund?"
    ).message
    conversation = Conversation.objects.get(pk=first.conversation_id)
    Conversation.objects.filter(pk=conversation.pk).update(assigned_agent=alice)
    shot_file = attachment_upload(
        upload=Upload(name="broken-lamp.png", content_type="image/png", data=screenshot_png()),
        visitor=dana,
    )
    services.message_send_by_visitor(
        visitor=dana, client_id=uuid.uuid4(), body="", attachment_ids=[shot_file.pk]
    )
    services.message_send_by_agent(
        agent=alice,
        conversation=conversation,
        client_id=uuid.uuid4(),
        body="I'm sorry! Yes, you'll get a full refund. Could you send the order number?",
    )
    services.note_add(
        agent=alice,
        conversation=Conversation.objects.get(pk=conversation.pk),
        client_id=uuid.uuid4(),
        body="@bob the depot packed this one: can you check the batch?",
        mention_ids=[bob.pk],
    )
    SavedReply.objects.create(
        title="Refund timing",
        body="Hi {visitor_name}, refunds reach your card within 5 days.",
        shortcut="refund",
        owner=alice.user,
    )
    Tag.objects.get_or_create(name="Refund", color="#dc2626")
    return conversation


@pytest.mark.parametrize("size", ["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_workspace_looks_right_and_passes_axe(dressed, server, browser, language, size):
    phone = size == "phone"
    viewport = PHONE if phone else DESKTOP
    tag = f"{language}-{viewport['width']}"
    errors: list[str] = []
    people = PEOPLE[language]
    page = sign_in(
        browser, server, "alice", viewport=viewport, is_mobile=phone, has_touch=phone, **people
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.locator("#conversation-list a.conv").first.click()
    image_loaded(page.locator("#thread-messages .att-image img"))
    page.locator("#thread-messages li.msg--note[data-id]").wait_for()
    if not phone:
        page.locator("#visitor-panel .vp-pages").wait_for()
    shot(page, f"{tag}-thread")
    fits(page, "the thread with an image and a note")
    axe(page, "the thread with an image and a note")
    if phone:
        page.click("#details-toggle")
        page.locator("#visitor-panel .vp-pages").wait_for()
        page.wait_for_timeout(250)  # the sheet's slide (0.2 s) before the picture
        shot(page, f"{tag}-visitor-panel")
        axe(page, "the visitor panel")
        page.keyboard.press("Escape")
    page.locator("#reply-input").press_sequentially("/", delay=20)
    page.locator("#picker .pick").first.wait_for()
    shot(page, f"{tag}-reply-picker")
    axe(page, "the reply picker")
    page.keyboard.press("Escape")
    page.fill("#reply-input", "")
    page.click("#mode-note")
    page.locator("#reply-input").press_sequentially("@b", delay=20)
    page.locator("#picker .pick").first.wait_for()
    shot(page, f"{tag}-note-mention")
    page.keyboard.press("Escape")
    page.click("#more-toggle")
    page.locator("#snooze-hour").wait_for()
    shot(page, f"{tag}-more")
    axe(page, "the actions menu")
    page.keyboard.press("Escape")
    page.locator("#thread-messages .att-image").click()
    image_loaded(page.locator(".att-viewer[open] .att-viewer-img"))
    shot(page, f"{tag}-image-viewer")
    page.keyboard.press("Escape")
    page.locator("#menu-toggle" if phone else "#replies-manage").click()
    if phone:
        page.click("#replies-manage")
    page.locator("#replies-dialog[open] .replies-item").first.wait_for()
    shot(page, f"{tag}-saved-replies")
    axe(page, "the saved replies")
    page.keyboard.press("Escape")

    # The widget with the picture and the reply, for Dana on her phone or computer.
    visitor = browser.new_page(viewport=viewport, is_mobile=phone, has_touch=phone, **people)
    visitor.on("pageerror", lambda e: errors.append(str(e)))
    visitor.goto(f"{server.base}/demo/")
    visitor.click("#hd-launcher")
    frame = next(f for f in visitor.frames if "/widget/" in f.url)
    frame.locator("#hd-input").fill("Here is a photo of the box")
    frame.locator("#hd-file").set_input_files(
        [{"name": "box.png", "mimeType": "image/png", "buffer": screenshot_png(480, 360)}]
    )
    frame.locator('#hd-tray .att-chip[data-state="done"]').wait_for()
    frame.locator("#hd-send").click()
    image_loaded(frame.locator("li.hd-msg--visitor .att-image img"))
    shot(visitor, f"{tag}-widget-image")
    axe(frame, "the widget with an image")
    assert errors == []
