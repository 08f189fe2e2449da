#!/usr/bin/env bash
# Quick start: install, migrate, load demo data (first run only) and serve on http://127.0.0.1:${PORT:-5000}.
source "$(dirname "$0")/_env.sh" requirements.txt
mkdir -p instance
if [ -z "${SECRET_KEY:-}${SECRET_KEY_FILE:-}" ]; then
  # A random per-install secret, never a default one shipped with the code.
  [ -s instance/secret_key ] || (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(48))' > instance/secret_key)
  export SECRET_KEY_FILE="$ROOT/instance/secret_key"
fi
flask --app wsgi registry migrate
flask --app wsgi registry demo
exec gunicorn --bind "127.0.0.1:${PORT:-5000}" --workers "${WEB_CONCURRENCY:-2}" --access-logfile - wsgi:app
