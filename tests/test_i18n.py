"""English and Chinese everywhere: the catalogue is complete and current, each person reads
their own language (their setting, else their browser's), visitors their browser's, and
emails their recipient's; the installable app's manifest and service worker."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client

from helpdesk import admin_labels
from helpdesk.models import SiteText
from notifications import services as notification_services
from notifications.models import AgentPreferences
from routing.models import OpeningPeriod, Schedule
from tests.factories import VisitorFactory
from tests.processes import ROOT

LOCALE = ROOT / "locale"
CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))
gettext_tools = pytest.mark.skipif(
    not shutil.which("msgattrib"), reason="gettext is not installed (make test installs it)"
)


def test_there_are_catalogues_for_both_languages():
    names = {str(p.relative_to(LOCALE)) for p in CATALOGUES}
    assert {
        "zh_Hans/LC_MESSAGES/django.po",
        "zh_Hans/LC_MESSAGES/djangojs.po",
        "en/LC_MESSAGES/django.po",
        "en/LC_MESSAGES/djangojs.po",
    } <= names


@gettext_tools
@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_message_has_a_chinese_translation(domain):
    po = LOCALE / "zh_Hans" / "LC_MESSAGES" / f"{domain}.po"
    for flag in ("--untranslated", "--only-fuzzy"):
        left = subprocess.run(
            ["msgattrib", flag, "--no-wrap", str(po)], capture_output=True, text=True, check=True
        ).stdout
        assert not re.findall(r'^msgid "(.+)"$', left, re.M), f"{flag} in {po}:\n{left}"
    # And each translation keeps its placeholders (%(name)s, plural forms).
    subprocess.run(["msgfmt", "--check", "-o", "/dev/null", str(po)], check=True)


@gettext_tools
def test_the_catalogue_holds_every_string_of_the_code(tmp_path):
    """makemessages run afresh (on a copy of the code) finds nothing the catalogue lacks."""
    copy = tmp_path / "code"
    skip = shutil.ignore_patterns(
        ".venv", "node_modules", "var", "test-artifacts", ".git", "__pycache__", "*.mo"
    )
    shutil.copytree(ROOT, copy, ignore=skip)
    subprocess.run(
        ["scripts/collect-messages.sh"],
        cwd=copy,
        env={**os.environ, "PY": sys.executable},
        check=True,
        capture_output=True,
    )
    for po in CATALOGUES:
        fresh = copy / po.relative_to(ROOT)
        compared = subprocess.run(
            ["msgcmp", "--use-untranslated", str(po), str(fresh)], capture_output=True, text=True
        )
        assert compared.returncode == 0, f"run `make messages` and translate:\n{compared.stderr}"


def test_the_back_office_words_cover_every_label_of_every_model():
    """A new field, help text or choice has its words in helpdesk/admin_labels.py, so the
    catalogue (and so the check above) holds it."""
    listed = {str(w) for w in admin_labels.WORDS}
    missing = [w for w in admin_labels.labels() if w not in listed]
    assert not missing, f"add to helpdesk/admin_labels.py WORDS: {missing}"


def test_no_page_or_email_branches_on_the_language_by_hand():
    branches = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for folder in ("templates", "notifications/templates")
        for path in (ROOT / folder).rglob("*.*")
        for line in path.read_text().splitlines()
        if re.search(r"\b(lang|LANGUAGE_CODE)\s*==", line)
    ]
    assert not branches, branches


# ---- who reads which language ----------------------------------------------------------------


def page_language(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


@pytest.mark.django_db
def test_the_browser_chooses_until_the_person_does(alice):
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5")
    login = chinese.get("/accounts/login/")
    assert page_language(login) == "zh-hans" and "登录 Helpdesk" in login.content.decode()
    assert page_language(Client(HTTP_ACCEPT_LANGUAGE="en-GB").get("/accounts/login/")) == "en"
    # Alice has chosen nothing: her browser's language, in the inbox too.
    chinese.post("/accounts/login/", {"username": "alice", "password": "pw-for-tests-1"})
    inbox = chinese.get("/inbox/")
    assert page_language(inbox) == "zh-hans" and "解决" in inbox.content.decode()


@pytest.mark.django_db
def test_a_persons_own_setting_wins_over_the_browser(alice):
    AgentPreferences.objects.create(agent=alice, language="en")
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    chinese.post("/accounts/login/", {"username": "alice", "password": "pw-for-tests-1"})
    assert page_language(chinese.get("/inbox/")) == "en"
    assert page_language(chinese.get("/notifications/")) == "en"
    # She chooses Chinese: from the next page on.
    chinese.post("/notifications/", {"agent-language": "zh-hans", "agent-timezone": "UTC"})
    assert page_language(chinese.get("/inbox/")) == "zh-hans"
    # A sign-out forgets it; the next sign-in reads it again.
    chinese.post("/accounts/logout/")
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.post("/accounts/login/", {"username": "alice", "password": "pw-for-tests-1"})
    assert page_language(english.get("/inbox/")) == "zh-hans"


@pytest.mark.django_db
def test_a_first_choice_starts_from_the_language_being_read(alice):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.force_login(alice.user)
    page = client.get("/notifications/").content.decode()
    assert '<option value="zh-hans" selected>' in page


@pytest.mark.django_db
def test_the_javascript_catalogue_is_a_script_of_our_own_cached_by_version(client, alice):
    client.force_login(alice.user)
    inbox = client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    url = re.search(r'<script src="(/jsi18n/zh-hans/\?v=\w+)" defer>', inbox).group(1)
    catalogue = client.get(url)
    assert catalogue.status_code == 200
    assert catalogue["Content-Type"].startswith("text/javascript")
    assert "immutable" in catalogue["Cache-Control"]
    body = catalogue.content.decode()
    assert json.dumps("正在重新连接…") in body  # "Reconnecting…", in Chinese
    assert client.get("/jsi18n/fr/").status_code == 404


@pytest.mark.django_db
def test_the_widget_speaks_the_visitors_language_with_the_sites_words(client, acme, support):
    SiteText.objects.create(site=acme, language="zh-hans", greeting="您好！", offline="请留言")
    hours = Schedule.objects.create(name="Never", timezone="Asia/Shanghai")
    OpeningPeriod.objects.create(schedule=hours, weekday=0, opens=time(9), closes=time(9, 1))
    acme.business_hours = hours
    acme.save(update_fields=["business_hours"])

    def config(language: str) -> dict:
        page = client.get(f"/widget/?site_key={acme.widget_key}", HTTP_ACCEPT_LANGUAGE=language)
        assert page_language(page) == {"zh-CN": "zh-hans", "en-US": "en"}[language]
        raw = re.search(
            r'id="hd-config" type="application/json">(.*?)</script>', page.content.decode()
        )
        return json.loads(raw.group(1))

    zh, en = config("zh-CN"), config("en-US")
    assert (zh["greeting"], zh["offline_text"]) == ("您好！", "请留言")
    assert (en["greeting"], en["offline_text"]) == (acme.greeting, "")  # the fallbacks
    # When the team is next in (a Monday 09:00 in Shanghai), before anything is written.
    assert zh["next_open_at"].endswith("T01:00:00Z")


@pytest.mark.django_db
def test_a_visitor_is_emailed_in_their_browsers_language(acme, django_capture_on_commit_callbacks):
    vic = VisitorFactory(site=acme, language="zh-CN")
    with django_capture_on_commit_callbacks(execute=True):
        notification_services.visitor_email_set(visitor=vic, email="vic@example.com")
    (sent,) = mail.outbox
    assert sent.subject == f"请确认您的邮箱（{acme.name}）"
    assert "确认后，我们会把" in sent.body


# ---- the installable app ----------------------------------------------------------------------


def test_the_manifest_makes_the_inbox_installable(client):
    from django.contrib.staticfiles import finders

    response = client.get("/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] == "Helpdesk 收件箱" and manifest["lang"] == "zh-hans"
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == (
        "/inbox/",
        "/",
        "standalone",
    )
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        path = finders.find(icon["src"].removeprefix("/static/"))
        width, height = png_size(Path(path))
        assert f"{width}x{height}" == icon["sizes"]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_the_staff_service_worker_keeps_an_offline_shell_and_push(client):
    staff = client.get("/sw.js").content.decode()
    assert 'addEventListener("fetch"' in staff and 'addEventListener("push"' in staff
    assert '"/offline/"' in staff and "setAppBadge" in staff
    # The widget's worker only shows pushes: no shell to keep in a customer's frame.
    widget = client.get("/widget/sw.js").content.decode()
    assert 'addEventListener("push"' in widget and 'addEventListener("fetch"' not in widget


@pytest.mark.django_db
def test_the_offline_page_is_there_for_the_worker_to_keep(client):
    page = client.get("/offline/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert page.status_code == 200 and "您已离线" in page.content.decode()


@pytest.mark.django_db
def test_a_greeting_the_site_never_changed_is_ours_in_the_visitors_language(acme):
    assert acme.greeting == "Hi! How can we help you today?"  # the default, untouched
    assert acme.words("zh-hans")["greeting"] == "您好！有什么可以帮您？"
    assert acme.words("en")["greeting"] == acme.greeting
    acme.greeting = "Welcome to Acme!"  # the site's own words are its own, in every language
    acme.save(update_fields=["greeting"])
    assert acme.words("zh-hans")["greeting"] == "Welcome to Acme!"
