#!/usr/bin/env bash
# Compile the translations: locale/<language>/LC_MESSAGES/*.po into the .mo files Django reads.
# gettext (msgfmt) comes from the distribution's packages when this runs as root and it is
# missing. Only .po files newer than their .mo are compiled again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v msgfmt >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing gettext from the distribution's packages to compile the translations..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext) >/dev/null
  else
    echo "gettext is missing (msgfmt): install the gettext package, then run make install again." >&2
    exit 1
  fi
fi
.venv/bin/python manage.py compilemessages --ignore=.venv --ignore=node_modules --verbosity 0
