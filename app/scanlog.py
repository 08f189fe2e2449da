"""The scan log in the web layer: every verification is recorded, in batches, off the hot path.

A verification builds its row (``registry.scanlog.scan_record``) and hands it to this process's
:class:`ScanLog`, which writes buffered rows in one INSERT, in a transaction of its own, when
``SCAN_LOG_BATCH`` rows are waiting or every ``SCAN_LOG_FLUSH_SECONDS`` (a daemon thread), and
at exit. So a verification does not wait for a write, and a write serves many verifications;
what a crash can lose is at most the last second's rows. ``SCAN_LOG_BATCH = 1`` writes each row
at once (the tests use it). After each write the misuse alert rules run over the new rows.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from flask import Flask, current_app, request
from sqlalchemy.orm import Session

from app import clock
from registry.oversight_models import ScanChannel
from registry.scanlog import ScanRecord, client_hash, scan_record, write_scans
from registry.verification import VerificationResult

log = logging.getLogger(__name__)
EXTENSION = "scan_log"
MAX_PENDING = 20_000  # rows kept while the database cannot take them (then the oldest are dropped)
AfterWrite = Callable[[Session, list[ScanRecord]], None]


class ScanLog:
    """A per-process buffer of scan rows, written in batches (thread-safe)."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        batch: int,
        interval: float,
        context: Callable[[], AbstractContextManager[object]] = nullcontext,
        client_secret: bytes = b"",
    ) -> None:
        self._factory = session_factory
        self.client_secret = client_secret  # the key of client address hashes (the app's secret)
        # The app context the writes run in (the flusher thread has none of its own): the
        # checkpoint hook (app.signing) needs it to sign after an alert grew the log.
        self._context = context
        self._batch = max(1, batch)
        self._interval = interval
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # one write at a time: rows keep their order
        self._pending: list[ScanRecord] = []
        self._pid: int | None = None  # the flusher thread belongs to one process (gunicorn forks)
        self.after_write: list[AfterWrite] = []
        self.failed_writes = 0
        atexit.register(self.flush)

    def add(self, record: ScanRecord) -> None:
        """Buffer one row; write now if the batch is full."""
        with self._lock:
            self._pending.append(record)
            full = len(self._pending) >= self._batch
        if full:
            self.flush()
        elif self._pid != os.getpid():
            self._start_flusher()

    def flush(self) -> None:
        """Write every buffered row now, then run the after-write hooks (misuse alerts)."""
        with self._write_lock:
            with self._lock:
                records, self._pending = self._pending, []
            if not records:
                return
            with self._context():
                session: Session | None = None
                try:
                    session = self._factory()
                    write_scans(session, records)
                    for hook in self.after_write:
                        hook(session, records)
                    session.commit()
                except Exception:  # a log write must never take a verification down with it
                    if session is not None:
                        session.rollback()
                    self.failed_writes += 1
                    log.exception("could not write %d scan log rows; they wait for the next", len(records))
                    with self._lock:  # back in front, in order; beyond the cap the oldest go
                        self._pending = (records + self._pending)[-MAX_PENDING:]
                finally:
                    if session is not None:
                        session.close()

    def _start_flusher(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
        thread = threading.Thread(target=self._run, name="scan-log-flusher", daemon=True)
        thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            try:
                self.flush()
            except Exception:  # the thread must outlive any one failure (no database, say)
                log.exception("the scan log flusher failed; it will try again")


def scan_log() -> ScanLog:
    """This app's scan log."""
    found: ScanLog = current_app.extensions[EXTENSION]
    return found


def log_verification(
    result: VerificationResult,
    scanned: object,
    *,
    channel: ScanChannel,
    port: str = "",
    declaration: dict[str, object] | None = None,
    declaration_outcome: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Record one verification of the current request in the scan log (at ``now``, the time of
    the verification, by default the clock's)."""
    found = scan_log()
    found.add(
        scan_record(
            result,
            scanned,
            channel=channel,
            now=clock.now() if now is None else now,
            port=port,
            client=client_hash(found.client_secret, request.remote_addr),
            declaration=declaration,
            declaration_outcome=declaration_outcome,
        )
    )


def init_app(app: object, session_factory: Callable[[], Session], *, batch: int, interval: float) -> ScanLog:
    """Create the app's scan log (``app.extensions["scan_log"]``)."""
    flask_app: Flask = app  # type: ignore[assignment]
    secret = str(flask_app.config["SECRET_KEY"]).encode("utf-8")
    found = ScanLog(
        session_factory, batch=batch, interval=interval, context=flask_app.app_context, client_secret=secret
    )
    flask_app.extensions[EXTENSION] = found
    return found
