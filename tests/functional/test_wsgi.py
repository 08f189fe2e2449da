"""The WSGI entry point, loaded as gunicorn loads it: in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_entry_point_freezes_what_start_up_built(tmp_path: Path) -> None:
    """A full collection then walks what requests made, not the start-up heap (wsgi.py)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'registry.sqlite3'}",
        "SECRET_KEY": "wsgi-test-secret-key-wsgi-test-secret-key",
        "INSTANCE_DIR": str(tmp_path),
    }
    probe = "import gc, wsgi; print(gc.get_freeze_count(), wsgi.app.name)"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    frozen, name = done.stdout.split()
    assert name == "app"
    assert int(frozen) > 50_000  # the modules, the app and its tables (about 140,000 here)
