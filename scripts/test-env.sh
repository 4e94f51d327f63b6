#!/usr/bin/env bash
# Run a command against PostgreSQL and Redis (the suite never uses SQLite, except for the
# smoke test of the embedded default, which starts its own process).
#
# TEST_SERVERS says where they come from:
#   auto (default)  the URLs below when they answer; for each one that does not, a private
#                   server for this run only (PostgreSQL initialised in a temporary directory
#                   and started with pg_ctl, redis-server), on a free port, stopped at the end.
#                   Missing binaries are installed from the distribution's packages when run
#                   as root.
#   own             private servers even when the machine's answer.
#   machine         the URLs only; stop with a message when they do not answer.
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
# pytest's temporary directories of this run, apart from any other run's: by default every
# run shares /tmp/pytest-of-<user> and deletes all but the newest three there, so runs side
# by side on one machine could delete each other's (a server's metrics directory, say).
export PYTEST_ADDOPTS="${PYTEST_ADDOPTS:-} --basetemp=${DATA_DIR}/pytest"
TEST_SERVERS=${TEST_SERVERS:-auto}
case "$TEST_SERVERS" in auto | own | machine) ;; *)
  echo "TEST_SERVERS=$TEST_SERVERS: use auto, own or machine" >&2
  exit 2
  ;;
esac

PY=.venv/bin/python
[ -x "$PY" ] || PY=python3

# Prints the variables (DATABASE_URL, REDIS_URL) whose server does not accept a connection.
unreachable() {
  "$PY" - <<'PY'
import os, socket, urllib.parse
for var, port in (("DATABASE_URL", 5432), ("REDIS_URL", 6379)):
    u = urllib.parse.urlparse(os.environ[var])
    try:
        socket.create_connection((u.hostname, u.port or port), timeout=3).close()
    except OSError as exc:
        print(var, f"{u.hostname}:{u.port or port} ({exc})")
PY
}

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Debian packages, as root only. The packages' own services are not started (policy-rc.d):
# this run starts private servers and leaves nothing running behind it.
install_packages() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    return 1
  fi
  echo "Installing $* from the distribution's packages..." >&2
  local policy=/usr/sbin/policy-rc.d ours="" rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && ours=1
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@") >/dev/null || rc=$?
  if [ -n "$ours" ]; then rm -f "$policy"; fi
  return "$rc"
}

PRIVATE_DIRS=()
STOPS=()
stop_private() {
  local i
  for ((i = ${#STOPS[@]} - 1; i >= 0; i--)); do eval "${STOPS[i]}" || true; done
  for dir in "${PRIVATE_DIRS[@]}"; do rm -rf "$dir"; done
}

pg_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1
}

start_postgres() {
  local bin dir port
  bin=$(pg_bindir)
  if [ -z "$bin" ]; then
    install_packages postgresql || {
      echo "PostgreSQL is not installed (Debian: apt-get install postgresql)." >&2
      exit 1
    }
    bin=$(pg_bindir)
  fi
  dir=$(mktemp -d /tmp/helpdesk-test-pg.XXXXXX)
  PRIVATE_DIRS+=("$dir")
  port=$(free_port)
  # initdb and postgres refuse to run as root: as root, the server runs as the postgres user.
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync \
    >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  # Durability off: this database lives for one run.
  STOPS+=("${as[*]} $bin/pg_ctl -D $dir/data -m immediate -w stop >/dev/null 2>&1")
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || {
    cat "$dir/server.log" >&2
    exit 1
  }
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/helpdesk_run$$"
  # libpq tools the suite calls (pg_dump) find the same server.
  export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
  echo "test-env: private PostgreSQL on 127.0.0.1:$port ($dir), stopped at the end" >&2
}

start_redis() {
  local dir port
  if ! command -v redis-server >/dev/null; then
    install_packages redis-server || {
      echo "Redis is not installed (Debian: apt-get install redis-server)." >&2
      exit 1
    }
  fi
  dir=$(mktemp -d /tmp/helpdesk-test-redis.XXXXXX)
  PRIVATE_DIRS+=("$dir")
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  STOPS+=("redis-cli -p $port shutdown nosave >/dev/null 2>&1")
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$port" ping >/dev/null || {
    cat "$dir/redis.log" >&2
    exit 1
  }
  export REDIS_URL="redis://127.0.0.1:$port/15"
  echo "test-env: private Redis on 127.0.0.1:$port, stopped at the end" >&2
}

# The scale-out test runs again behind a PgBouncer of its own (tests/pgbouncer.py): installed
# like the servers when missing; without it, that one case is skipped.
if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  install_packages pgbouncer ||
    echo "test-env: pgbouncer is not installed (Debian: apt-get install pgbouncer); the tests behind it are skipped" >&2
fi

if [ "$TEST_SERVERS" = own ]; then
  missing="DATABASE_URL REDIS_URL"
else
  missing=$(unreachable)
  if [ -n "$missing" ] && [ "$TEST_SERVERS" = machine ]; then
    while read -r var where; do
      echo "$var $where is not reachable. Start PostgreSQL and Redis (see README), or leave TEST_SERVERS unset to use private ones." >&2
    done <<<"$missing"
    exit 1
  fi
fi
if [ -z "$missing" ]; then
  exec "$@"
fi

trap stop_private EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
case "$missing" in *DATABASE_URL*) start_postgres ;; esac
case "$missing" in *REDIS_URL*) start_redis ;; esac
rc=0
"$@" || rc=$?
exit "$rc"
