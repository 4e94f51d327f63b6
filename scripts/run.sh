#!/usr/bin/env bash
# Migrate, seed a demo into an empty database, print the three URLs and serve.
# Nothing set: one process (SQLite, in-memory channel layer, tasks in-process).
# DATABASE_URL and REDIS_URL set: uvicorn, a Celery worker and Celery beat together.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
BASE="http://${HOST}:${PORT}"

./scripts/messages.sh  # the translations, compiled
$PY manage.py migrate --noinput
$PY manage.py seed_demo --base-url "$BASE"

pids=()
# Metrics of the processes started below only (docs/operations.md): a fresh directory.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
fi
if [ -n "${DATABASE_URL:-}" ] && [ -n "${REDIS_URL:-}" ]; then
  $PY manage.py collectstatic --noinput >/dev/null
  .venv/bin/celery -A helpdesk worker --loglevel=INFO --concurrency="${CELERY_CONCURRENCY:-2}" &
  pids+=($!)
  .venv/bin/celery -A helpdesk beat --loglevel=INFO --schedule="${DATA_DIR:-var}/celerybeat-schedule" &
  pids+=($!)
  trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
  mode="production shape: uvicorn + Celery worker + Celery beat on PostgreSQL and Redis"
else
  mode="embedded: SQLite, in-memory channel layer, tasks in-process"
fi
# Without Redis the channel layer and presence live in one process's memory: one web process.
workers=1
if [ -n "${REDIS_URL:-}" ]; then workers=${WEB_CONCURRENCY:-1}; fi

cat <<MSG

  Helpdesk is starting ($mode).
    Back office (managers):  ${BASE}/admin/
    Agent inbox:             ${BASE}/inbox/
    Demo page with widget:   ${BASE}/demo/

MSG
# Permessage-deflate declined: it costs about 40 KiB per idle socket for frames of a few
# hundred bytes (docs/performance.md, "Memory per socket with compression offered").
.venv/bin/uvicorn helpdesk.asgi:application --host "$HOST" --port "$PORT" \
  --ws websockets-sansio --ws-per-message-deflate false \
  --ws-max-size 1048576 --proxy-headers --lifespan off --workers "$workers"
