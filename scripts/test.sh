#!/usr/bin/env bash
# Quick start: install everything the suite needs (including Debian's Chromium) and run it all.
# With TEST_DATABASE_URL set, every test runs on SQLite and on PostgreSQL.
source "$(dirname "$0")/_env.sh" requirements-dev.txt
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium for the browser tests" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: /usr/bin/chromium is missing and this user cannot apt-get install it; browser tests will fail" >&2
  fi
fi
echo "== ruff"; ruff check .
echo "== mypy"; mypy
echo "== pytest"; python -m pytest "$@"
