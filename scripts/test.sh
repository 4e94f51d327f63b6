#!/usr/bin/env bash
# The whole suite on PostgreSQL and Redis, with the browser tests in Debian's Chromium and the
# client library's tests in Node.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Chromium from the distribution's packages for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
# Chinese pages in the browser tests' screenshots need a font with Chinese characters.
if ! fc-list 2>/dev/null | grep -qi "wenquanyi" && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing fonts-wqy-microhei for the Chinese pages of the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei) >/dev/null
fi
./scripts/messages.sh   # the translations, compiled
./scripts/node-deps.sh  # Node and the npm packages of the client library's tests (tests/js/)
exec ./scripts/test-env.sh .venv/bin/python -m pytest "$@"
