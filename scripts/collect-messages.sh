#!/usr/bin/env bash
# Collect the strings of the code into the catalogues, locale/<language>/LC_MESSAGES/*.po
# (`make messages`): django.po from Python and templates, djangojs.po from the pages' scripts
# (not the client library: its errors are codes, its words the apps' own). Then translate the
# new entries in locale/zh_Hans; tests/test_i18n.py fails while one is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
common=(--locale zh_Hans --locale en --no-obsolete --ignore '.venv/*' --ignore 'node_modules/*'
  --ignore 'tests/*' --ignore 'bench/*' --ignore 'var/*' --ignore 'examples/*'
  --ignore 'test-artifacts/*')
"$PY" manage.py makemessages "${common[@]}"
"$PY" manage.py makemessages --domain djangojs "${common[@]}" \
  --ignore 'helpdesk/static/helpdesk/client*.js'
