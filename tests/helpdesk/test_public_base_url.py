"""Links in emails follow where `make run` serves: PORT (and HOST) in the embedded default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.processes import ROOT

PRINT = "from django.conf import settings; print(settings.PUBLIC_BASE_URL)"


def base_url(tmp_path, **env: str) -> str:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTEST")
        and k not in ("DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "HOST", "PORT")
    }
    clean |= {"DATA_DIR": str(tmp_path), **env}
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PRINT],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]  # after the shell's own "objects imported" line


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "9000"}, "http://127.0.0.1:9000"),
        ({"HOST": "0.0.0.0", "PORT": "18811"}, "http://127.0.0.1:18811"),  # noqa: S104
        ({"HOST": "localhost", "PORT": "9000"}, "http://localhost:9000"),
        (
            {"PORT": "9000", "PUBLIC_BASE_URL": "https://help.example.com/"},
            "https://help.example.com",
        ),
    ],
)
def test_the_embedded_default_links_to_the_port_it_serves_on(tmp_path, env, expected):
    assert base_url(tmp_path, **env) == expected
