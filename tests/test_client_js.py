"""The client library (helpdesk/static/helpdesk/client.js) under Node, against a real server.

Each suite of tests/js/ runs in Node's own test runner (``node --test``) with the address of
a real uvicorn process on the test database, a site's widget key and an agent's credentials
in its environment. `make test` installs Node and the npm packages (package-lock.json).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.processes import ROOT, server_env

NODE = shutil.which("node")
SUITES = ["library", "browser", "wechat", "react-native", "rating"]

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(
        NODE is None or not (ROOT / "node_modules" / "ws").is_dir(),
        reason="Node or its packages are missing (make test installs them)",
    ),
]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("suite", SUITES)
def test_the_client_library_under_node(suite, acme, alice, app_server):
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
