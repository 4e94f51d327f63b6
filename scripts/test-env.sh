#!/usr/bin/env bash
# Run a command against the local PostgreSQL and Redis (the suite never uses SQLite,
# except for the smoke test of the embedded default, which starts its own process).
set -euo pipefail
cd "$(dirname "$0")/.."
# One database per run (pytest-django makes test_<name> and drops it): concurrent runs on one
# machine never share tables.
export DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/helpdesk_run$$}
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
export DJANGO_SECRET_KEY=${DJANGO_SECRET_KEY:-test-only-not-secret}
# The suite's servers speak plain http on loopback (production defaults to HTTPS).
export HTTPS=${HTTPS:-false}
# Test-only keys for encryption at rest (never use these anywhere else).
export FIELD_ENCRYPTION_KEYS=${FIELD_ENCRYPTION_KEYS:-t1:7jW_5b41XPQlDqjT_slIMWcTkzcAMyl6hUdjRrcoJzI=}
export FIELD_INDEX_KEY=${FIELD_INDEX_KEY:-hh2mMNRE0QbdFBtzA8h_XGljOpN3xeAhnKqD_EAF1bA=}
export CELERY_TASK_ALWAYS_EAGER=${CELERY_TASK_ALWAYS_EAGER:-true}
export CHANNELS_PREFIX=${CHANNELS_PREFIX:-hdtest$$}
export CELERY_QUEUE=${CELERY_QUEUE:-hdtest$$}
export DB_CONN_MAX_AGE=${DB_CONN_MAX_AGE:-0}
export DATA_DIR=${DATA_DIR:-$(mktemp -d)}
if ! .venv/bin/python - <<'PY'
import os, socket, sys, urllib.parse
for var, port in (("DATABASE_URL", 5432), ("REDIS_URL", 6379)):
    u = urllib.parse.urlparse(os.environ[var])
    try:
        socket.create_connection((u.hostname, u.port or port), timeout=3).close()
    except OSError as exc:
        sys.exit(f"{var} ({u.hostname}:{u.port or port}) is not reachable: {exc}. Start PostgreSQL and Redis (see README).")
PY
then exit 1; fi
exec "$@"
