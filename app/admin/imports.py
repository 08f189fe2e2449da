"""The official-list import: upload a CSV or XLSX, read the dry run, apply it (admins only).

The uploaded bytes are kept as ``IMPORT_DIR/<sha256>.<csv|xlsx>``; the report's Apply form posts
that sha256 with the plan's digest, and the apply step re-parses and re-plans exactly that file.
If the registry changed since the dry run (the digest differs) the new plan is shown instead of
being applied, so an admin only ever applies a plan they have read.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app import clock
from app.access import roles
from app.admin import ADMINS, bp
from app.database import get_session
from app.i18n import gettext
from registry.errors import ImportRejected
from registry.importer import ImportReport, apply, dry_run, sha256_hex

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
STORED_FORMATS = ("csv", "xlsx")
# The report lists at most this many problems and changes of each kind; counts are always complete.
SHOWN = 500
MAX_FILENAME = 200
APPLIED = (
    "Import applied: {bodies_added} bodies added, {bodies_changed} changed, {bodies_withdrawn} withdrawn; "
    "{lines_added} lines added, {lines_changed} changed, {lines_status_changed} with a new status, "
    "{lines_withdrawn} withdrawn."
)

Page = tuple[str, int]


def _stored_path(digest: str, fmt: str) -> Path:
    return Path(current_app.config["IMPORT_DIR"]) / f"{digest}.{fmt}"


def _store(data: bytes, digest: str, fmt: str) -> None:
    path = _stored_path(digest, fmt)
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent apply never reads a half-written file.
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    partial.write_bytes(data)
    os.replace(partial, path)


def _load(digest: str) -> tuple[bytes, str] | None:
    for fmt in STORED_FORMATS:
        path = _stored_path(digest, fmt)
        if path.is_file():
            data = path.read_bytes()
            if sha256_hex(data) == digest:
                return data, fmt
    return None


def _status(report: ImportReport) -> int:
    if report.applicable:
        return 200
    return 415 if report.unsupported else 422


def _report_page(report: ImportReport, status: int, message: str | None = None) -> Page:
    return render_template("admin/import_report.html", report=report, message=message, shown=SHOWN), status


def _form_page(message: str | None, status: int) -> Page:
    return render_template("admin/import.html", message=message), status


@bp.get("/import")
@roles(*ADMINS)
def import_form() -> str:
    """The upload form."""
    return render_template("admin/import.html", message=None)


@bp.post("/import")
@roles(*ADMINS)
def import_upload() -> Page:
    """Dry run: parse, validate and plan the upload; keep the file when it can be applied."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _form_page(gettext("Choose a CSV or XLSX file to upload."), 400)
    data = upload.read()
    filename = Path(upload.filename).name[:MAX_FILENAME]
    report = dry_run(get_session(), data, filename, clock.now())
    if report.applicable and report.format and report.plan is not None and report.plan.has_changes:
        _store(data, report.sha256, report.format)
    return _report_page(report, _status(report))


@bp.post("/import/apply")
@roles(*ADMINS)
def import_apply() -> Page | Response:
    """Apply a file that was dry-run: re-plan it, check it is the plan shown, apply it all or nothing."""
    digest = request.form.get("sha256", "")
    stored = _load(digest) if SHA256_HEX.match(digest) else None
    if stored is None:
        return _form_page(gettext("That upload is no longer available; upload the file again."), 404)
    data, fmt = stored
    filename = request.form.get("filename", "")[:MAX_FILENAME] or f"{digest[:12]}.{fmt}"
    now = clock.now()
    session = get_session()
    report = dry_run(session, data, filename, now)
    if not report.applicable or report.plan is None:
        return _report_page(report, _status(report))
    if request.form.get("plan_digest") != report.plan.digest():
        return _report_page(report, 409, gettext(
            "The registry changed after this dry run. Review the new plan below and apply again."))
    reason = request.form.get("reason", "").strip()
    if not reason:
        return _report_page(report, 422, gettext("A reason is required."))
    try:
        counts = apply(session, report.plan, actor=current_user.username, now=now, reason=reason)
    except ImportRejected as exc:
        report.errors = list(exc.details.get("errors", []))
        return _report_page(report, 422, gettext("Nothing was imported."))
    if report.plan.has_changes:
        flash(gettext(APPLIED, **counts), "success")
    else:
        flash(gettext("The file matches the registry; nothing was changed."), "success")
    return redirect(url_for("admin.import_form"))
