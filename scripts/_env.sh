# Shared set-up for the scripts: a virtualenv in .venv with the pinned packages.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
REQ_FILE="${1:-requirements.txt}"
STAMP=".venv/.installed-$(sha256sum requirements.txt "$REQ_FILE" | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQ_FILE"
  touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
