"""The suite brings its own servers: with nothing listening at the test URLs,
scripts/test-env.sh starts a private PostgreSQL and Redis for the run, points the command at
them, and stops them (and removes their files) when the command ends, whatever its result."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT, free_port

pytestmark = pytest.mark.processes

PROBE = """
import json, os, sys, psycopg, redis
db = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
with psycopg.connect(db) as conn:
    version = conn.execute("show server_version").fetchone()[0]
    data_dir = conn.execute("show data_directory").fetchone()[0]
redis.Redis.from_url(os.environ["REDIS_URL"]).set("probe", "1")
print(json.dumps({"db": os.environ["DATABASE_URL"], "redis": os.environ["REDIS_URL"],
                  "version": version, "data_dir": data_dir}))
sys.exit(int(sys.argv[1]))
"""


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def run_with_closed_ports(exit_code: int) -> tuple[subprocess.CompletedProcess[str], dict]:
    closed_db, closed_redis = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PG"))}
    env.update(
        TEST_DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_db}/helpdesk_probe",
        TEST_REDIS_URL=f"redis://127.0.0.1:{closed_redis}/15",
    )
    env.pop("TEST_SERVERS", None)
    done = subprocess.run(
        ["scripts/test-env.sh", sys.executable, "-c", PROBE, str(exit_code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip(), f"the command did not run: {done.stderr}"
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert f":{closed_db}/" not in seen["db"] and f":{closed_redis}/" not in seen["redis"]
    return done, seen


@pytest.mark.parametrize("exit_code", [0, 3])
def test_it_starts_private_servers_and_leaves_nothing_running(exit_code):
    done, seen = run_with_closed_ports(exit_code)
    assert done.returncode == exit_code  # the command's own result comes through
    assert "private PostgreSQL" in done.stderr and "private Redis" in done.stderr
    db_port = int(seen["db"].rsplit(":", 1)[1].split("/")[0])
    redis_port = int(seen["redis"].rsplit(":", 1)[1].split("/")[0])
    assert seen["version"]  # a real PostgreSQL answered
    # Stopped before the script returned: nothing listens, and the data directory is gone.
    assert not listening(db_port), f"PostgreSQL still listens on {db_port}"
    assert not listening(redis_port), f"Redis still listens on {redis_port}"
    assert not Path(seen["data_dir"]).exists(), seen["data_dir"]
