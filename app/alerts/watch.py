"""The alert rules after each scan log write (a hook of ``app.scanlog.ScanLog.after_write``).

The hook runs in the scan log's own transaction, so an alert and the rows that raised it commit
together. It runs inside a SAVEPOINT, though (``registry.alerts.evaluate_in_savepoint``): when
another worker's flush or an admin got to the same alert first, the rules run again over what
they committed; if the rules still fail (a bug, or clash after clash), only the alert work is
undone and the scan rows are still written, since the scan log is the record the rules are drawn
from. Rows that miss their alert that way still count in the windows of later batches; only a
withdrawal scan's alert (which counts new rows, not a window) is lost, and the failure is logged.

The hook may run in the scan log's flusher thread, outside any request or app context, so it
takes what it needs from the app when it is installed: the thresholds, and the clock (the app's
``NOW`` override in tests, else the wall clock).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

import config
from app import scanlog
from registry import alerts
from registry.scanlog import ScanRecord

log = logging.getLogger(__name__)


def alert_hook(app: Flask) -> scanlog.AfterWrite:
    """A hook that runs ``registry.alerts.evaluate`` with ``app``'s thresholds and clock."""
    try:  # read and checked once, at start-up
        thresholds = alerts.AlertThresholds.from_config(app.config)
    except ValueError as exc:
        raise config.ConfigError(str(exc)) from exc
    override: Callable[[], dt.datetime] | None = app.config.get("NOW")

    def evaluate_new_scans(session: Session, records: list[ScanRecord]) -> None:
        now = override() if override else dt.datetime.now(dt.UTC)
        try:
            alerts.evaluate_in_savepoint(session, records, now=now, thresholds=thresholds)
        except Exception:  # the scan rows must survive a failed rule: see the module's docstring
            log.exception("misuse alert rules failed on %d scan log rows", len(records))

    return evaluate_new_scans


def watch_scans(app: Flask) -> None:
    """Append the alert hook to ``app``'s scan log (created by ``app.scanlog.init_app``)."""
    found: scanlog.ScanLog = app.extensions[scanlog.EXTENSION]
    found.after_write.append(alert_hook(app))
