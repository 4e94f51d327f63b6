"""Production settings pass Django's deployment checklist without a warning."""

from __future__ import annotations

import json
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


SHOW_DATABASE = """
import json, django
django.setup()
from django.conf import settings
from django.db import connection
db = settings.DATABASES["default"]
print(json.dumps({
    "server_side_cursors_off": db["DISABLE_SERVER_SIDE_CURSORS"],
    "options": db.get("OPTIONS", {}),
    "prepare_threshold": connection.get_connection_params().get("prepare_threshold", "unset"),
    "pooling": settings.DATABASE_TRANSACTION_POOLING,
}))
"""


def settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    given = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    given |= {"DJANGO_SETTINGS_MODULE": "helpdesk.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", SHOW_DATABASE], cwd=ROOT, env=given, capture_output=True, text=True
    )


def test_transaction_pooling_turns_off_what_would_outlive_a_transaction():
    done = settings_with(DATABASE_TRANSACTION_POOLING="true")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["pooling"] is True
    assert seen["server_side_cursors_off"] is True
    assert seen["options"]["prepare_threshold"] is None
    assert seen["prepare_threshold"] is None  # what psycopg is given


def test_without_transaction_pooling_server_side_cursors_stay_on():
    done = settings_with(DATABASE_TRANSACTION_POOLING="false")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["pooling"] is False
    assert seen["server_side_cursors_off"] is False
    assert "prepare_threshold" not in seen["options"]


def test_transaction_pooling_needs_postgresql():
    done = settings_with(DATABASE_TRANSACTION_POOLING="true", DATABASE_URL="", REDIS_URL="")
    assert done.returncode != 0
    assert "DATABASE_TRANSACTION_POOLING needs DATABASE_URL" in done.stderr
