"""The client library (helpdesk/static/helpdesk/client.js) under Node, against a real server.

Each suite of tests/js/ runs in Node's own test runner (``node --test``) with the address of
a real uvicorn process on the test database, a site's widget key and an agent's credentials
in its environment. `make test` installs Node and the npm packages (package-lock.json).

The site has app-push credentials and a mini-program, and the server talks to a stand-in
for WeChat's API (tests/wechatapi.py): the mini-program suite links visitors with its
``wx.login`` codes and reports consents.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from django.db import connection

from notifications.models import ChannelSettings, SubscribeConsent, WechatIdentity
from tests.apppush import Fcm
from tests.processes import ROOT, Server, database_url_for, server_env
from tests.wechatapi import Wechat

NODE = shutil.which("node")
SUITES = ["library", "browser", "wechat", "react-native", "rating"]

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(
        NODE is None or not (ROOT / "node_modules" / "ws").is_dir(),
        reason="Node or its packages are missing (make test installs them)",
    ),
]


@pytest.fixture
def wechat():
    service = Wechat().start()
    yield service
    service.stop()


@pytest.fixture
def channels_server(tmp_path, transactional_db, acme, wechat):
    """A real uvicorn process on the test database, Acme's app and mini-program set up, and
    WeChat's API a stand-in."""
    ChannelSettings.objects.create(
        site=acme,
        # Only its presence matters here: registering a phone does not call FCM.
        fcm_service_account=Fcm().service_account(),
        wechat_appid=wechat.appid,
        wechat_secret=wechat.secret,
        wechat_templates=[
            {"id": "tmpl-reply-notice", "fields": {"thing1": "reply"}},
            {"id": "tmpl-order-update", "fields": {"thing1": "site"}},
        ],
    )
    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        CELERY_TASK_ALWAYS_EAGER="true",
        DB_CONN_MAX_AGE="0",
        WECHAT_API_BASE_URL=wechat.base,
    )
    server = Server(env, tmp_path / "server.log").start()
    yield server
    server.stop()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("suite", SUITES)
def test_the_client_library_under_node(suite, acme, alice, channels_server, wechat):
    app_server = channels_server
    env = server_env(
        HELPDESK_URL=app_server.base,
        HELPDESK_SITE_KEY=acme.widget_key,
        HELPDESK_AGENT="alice:pw-for-tests-1",
    )
    done = subprocess.run(
        [NODE, "--test", "--test-reporter=spec", f"tests/js/{suite}.test.js"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    report = done.stdout[-8000:] + done.stderr[-4000:]
    print(report)  # captured: pytest shows it when the test fails
    assert done.returncode == 0, report
    # The reporter's summary: every test ran and passed (a suite that found no test fails).
    counts = dict(re.findall(r"^\S+ (tests|pass|fail) (\d+)$", done.stdout, re.MULTILINE))
    assert counts.get("fail") == "0" and counts.get("pass") == counts.get("tests") != "0", report
    if suite == "wechat":
        # What the mini-program reported reached the database: openids from WeChat, consents.
        logins = wechat.calls_to("/sns/jscode2session")
        assert len(logins) == WechatIdentity.objects.count() >= 2
        openids = {c.query["js_code"].partition(".")[0] for c in logins}
        assert {i.openid for i in WechatIdentity.objects.all()} <= openids
        assert SubscribeConsent.objects.filter(template_id="tmpl-reply-notice").count() >= 3
