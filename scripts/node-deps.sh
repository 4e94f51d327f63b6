#!/usr/bin/env bash
# Node and the npm packages of package-lock.json, for the client library's tests (tests/js/).
# Node comes from the distribution's packages when this runs as root and it is missing; `npm ci`
# runs only when node_modules is missing or older than the lock file (offline once installed).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Node.js from the distribution's packages for the client library's tests..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm) >/dev/null
  else
    echo "Node.js is missing: the client library's tests will be skipped (install nodejs and npm)." >&2
    exit 0
  fi
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
