#!/usr/bin/env bash
# Quick start: install, migrate, load demo data (first run only) and serve on http://127.0.0.1:${PORT:-5000}.
source "$(dirname "$0")/_env.sh" requirements.txt
source "$(dirname "$0")/_instance_env.sh"
flask --app wsgi registry migrate
flask --app wsgi registry demo
# A bulk registration of 10,000 certificates takes about 10 s: the default leaves a wide margin.
exec gunicorn --bind "127.0.0.1:${PORT:-5000}" --workers "${WEB_CONCURRENCY:-2}" \
  --timeout "${GUNICORN_TIMEOUT:-300}" --access-logfile - wsgi:app
