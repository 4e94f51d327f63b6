"""Production settings pass Django's deployment checklist without a warning."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from tests.processes import ROOT


def test_production_settings_pass_check_deploy():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env |= {
        "HTTPS": "true",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "helpdesk.example.com",
        "DEBUG": "false",
    }
    env.pop("SECURE_HSTS_SECONDS", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
