"""Private databases for the benchmarks: a SQLite file under /tmp, or a throw-away PostgreSQL
database next to a server URL (as tests/conftest.py's private_postgres_database), and valid
credit codes for the data they seed."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import make_url, text

from registry.db import make_engine
from registry.identifiers import USCC_ALPHABET, uscc_check_character

DEFAULT_PG_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"


@contextmanager
def sqlite_database(prefix: str = "bench", keep: bool = False) -> Iterator[str]:
    """A SQLite file in a fresh folder ``/tmp/<prefix>-*``, removed afterwards unless ``keep``."""
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir="/tmp"))
    try:
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_database(url: str, prefix: str = "bench") -> Iterator[str]:
    """A database ``<prefix>_<pid>_<random>`` next to ``url``, dropped afterwards."""
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def credit_code(seed: int) -> str:
    """A valid GB 32100 unified social credit code (Shanghai, legal person) derived from ``seed``."""
    body = "91" + "310000" + "".join(USCC_ALPHABET[(seed // 31**i) % 31] for i in range(9))
    return body + uscc_check_character(body)
