"""Verification in the JSON API: check scanned seals, download the offline trust bundle, ping.

``POST /verify`` answers any JSON with a verdict or a clear 4xx: a string that is not a seal is
FORGED (200), a value of the wrong type is a 422 naming it, a batch over 1,000 a 422 naming the
limit. Nothing is cached: a revocation committed a moment ago decides the next answer. An item
with a customs declaration is also checked against the certificate (``registry.customs``) and
logged on the customs channel; a malformed declaration is a 422 naming its fields.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from flask import Response, current_app, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from app import clock
from app.access import public
from app.api import bp
from app.auth_tokens import exempt_json_writes, json_write
from app.certificates.customs import declaration_view, log_customs
from app.certificates.http import check_batch_size, read_json, strict_load
from app.certificates.present import kid_b64url, verdict_view
from app.certificates.schemas import (
    MAX_VERIFY_BATCH,
    TrustBundleArgs,
    VerifyBatchSchema,
    VerifyItemSchema,
)
from app.certificates.service import SigningUnavailable, grace_days, log_origin, seal_passphrase
from app.database import get_lookup_reader, get_reading_session, get_session, new_session
from app.scanlog import log_verification
from registry import translog
from registry.bundle_export import build_trust_bundle, bundle_sequence
from registry.customs import CustomsResult, check_declarations
from registry.keystore import KeyStoreError, active_signer
from registry.oversight_models import ScanChannel
from registry.verification import VerificationResult, verify_many, verify_scanned
from verify.declaration import Declaration
from verify.verdict import registry_today

BUNDLE_MEDIA_TYPE = "application/cbor"
# A bundle is rebuilt when the registry changed (its sequence) or after this long.
BUNDLE_REUSE = dt.timedelta(minutes=10)
_bundles: dict[tuple[int, bool, str], tuple[dt.datetime, bytes]] = {}
_bundles_lock = threading.Lock()
# Built once: constructing a marshmallow schema costs more than loading a small object with it,
# and loading does not change the instance (so it is safe to share between threads).
_ITEM_SCHEMA = VerifyItemSchema()
_BATCH_SCHEMA = VerifyBatchSchema()


def _bare_seal(payload: Any) -> str | None:
    """The scanned text of the commonest request, {"token": "..."} or {"qr": "..."} and nothing
    else, or None for anything else. Such a payload is valid as it is: VerifyItemSchema would
    only add ``log_proof: false``, so it is skipped (marshmallow costs more than the lookup)."""
    if type(payload) is dict and len(payload) == 1:
        ((key, value),) = payload.items()
        if key in ("token", "qr") and type(value) is str:
            return value
    return None


def _scanned_text(item: dict[str, Any]) -> str:
    return str(item["token"] if "token" in item else item["qr"])


Entry = tuple[str, Declaration | None]


def _batch_entries(items: list[Any]) -> list[Entry]:
    """Each item as (scanned text, declaration or None): a string as it is, an object through
    VerifyItemSchema (so a bad declaration in any item is a 422 naming the item and its fields)."""
    entries: list[Entry] = []
    errors: dict[str, Any] = {}
    for index, item in enumerate(items):
        if isinstance(item, str):
            entries.append((item, None))
            continue
        try:
            loaded = strict_load(_ITEM_SCHEMA, item)
            entries.append((_scanned_text(loaded), loaded.get("declaration")))
        except ValidationError as error:
            errors[str(index)] = error.messages
    if errors:
        raise ValidationError({"items": errors})
    return entries


def _customs_answer(result: CustomsResult, today: dt.date, checked_at: str) -> dict[str, Any]:
    answer = verdict_view(result.verification, today, checked_at)
    answer["declaration"] = declaration_view(result)
    return answer


def _batch_answers(
    session: Session, entries: list[Entry], now: dt.datetime, checked_at: str
) -> list[dict[str, Any]]:
    """The answers of a batch in order: plain seals in one verify_many, declared ones in one
    check_declarations (each logged on its channel)."""
    today = registry_today(now)
    plain = [index for index, (_, declaration) in enumerate(entries) if declaration is None]
    declared = [index for index, (_, declaration) in enumerate(entries) if declaration is not None]
    answers: list[dict[str, Any]] = [{} for _ in entries]
    verdicts: list[VerificationResult] = []
    if plain:
        verdicts = verify_many(session, [entries[i][0] for i in plain], now=now, grace_days=grace_days())
    for index, result in zip(plain, verdicts, strict=True):
        log_verification(result, entries[index][0], channel=ScanChannel.API, now=now)
        answers[index] = verdict_view(result, today, checked_at)
    checked: list[CustomsResult] = []
    if declared:
        items = [(text, declaration) for text, declaration in entries if declaration is not None]
        checked = check_declarations(session, items, now=now, grace_days=grace_days())
    for index, customs_result in zip(declared, checked, strict=True):
        log_customs(customs_result, entries[index][0])
        answers[index] = _customs_answer(customs_result, today, checked_at)
    return answers


@bp.post("/verify")
@public
@json_write
def verify_seals() -> Response:
    """Verify a seal: {"token": ...} or {"qr": "<scanned text>"}, or {"items": [...]} (up to 1,000).

    Each answer has a stable verdict code, the reason in Chinese and English, whether it is a
    warning, and the registered certificate when the seal is genuine and the certificate known.
    With a customs declaration ({"qr": ..., "declaration": {...}}) it also has the declaration's
    checks (holder or manufacturer, HS code, certificate and authorization on the declaration
    date), each MATCH, WARN or MISMATCH with its reason.
    """
    payload = read_json()
    now = clock.now()
    today = registry_today(now)
    checked_at = now.astimezone(dt.UTC).isoformat()
    if isinstance(payload, dict) and "items" in payload:
        check_batch_size(payload["items"], MAX_VERIFY_BATCH, "seals")
        data = strict_load(_BATCH_SCHEMA, payload)
        entries = _batch_entries(data["items"])
        # A verification only reads: no transaction round trips.
        items = _batch_answers(get_reading_session(), entries, now, checked_at)
        return _no_store(jsonify({"checked_at": checked_at, "count": len(items), "items": items}))
    bare = _bare_seal(payload)
    item: dict[str, Any] = (
        {"token": bare, "log_proof": False} if bare is not None else strict_load(_ITEM_SCHEMA, payload)
    )
    # A verification only reads: no transaction round trips.
    scanned = _scanned_text(item)
    declaration: Declaration | None = item.get("declaration")
    if declaration is not None:
        (checked,) = check_declarations(
            get_reading_session(), [(scanned, declaration)], now=now, grace_days=grace_days()
        )
        log_customs(checked, scanned)
        answer = _customs_answer(checked, today, checked_at)
    else:  # the commonest request: one lookup, on the thread's pinned connection
        result = verify_scanned(get_lookup_reader(), scanned, now=now, grace_days=grace_days())
        log_verification(result, scanned, channel=ScanChannel.API, now=now)
        # Already JSON-ready (VerdictSchema documents it; the tests check the answers against it).
        answer = verdict_view(result, today, checked_at)
    if item["log_proof"] and answer["log"] is not None:
        answer["log"] = _log_proof(get_reading_session(), answer["log"]["index"], now)
    return _no_store(jsonify(answer))


def _log_proof(session: Session, index: int, now: dt.datetime) -> dict[str, Any]:
    """The leaf's proof against the current checkpoint. Signing a new checkpoint is a write: it
    gets a short transaction of its own, so the reading session never turns into a writer (on
    SQLite, a read transaction that another writer overtook could not write any more)."""
    writer = new_session(current_app)  # type: ignore[arg-type]
    try:
        checkpoint = translog.publish_checkpoint(
            writer, now=now, origin=log_origin(), passphrase=seal_passphrase()
        )
        writer.commit()
    except KeyStoreError as exc:
        writer.rollback()
        raise SigningUnavailable(f"the log checkpoint cannot be signed now: {exc.message}") from exc
    finally:
        writer.close()
    return translog.log_proof(session, index, checkpoint).as_json()


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _bundle(include_registered: bool) -> tuple[bytes, str, int]:
    """(signed bundle, root key id, sequence), rebuilt only when the registry changed."""
    session = get_session()
    passphrase = seal_passphrase()
    now = clock.now()
    try:
        kid, _ = active_signer(session, "root", passphrase)
        sequence = bundle_sequence(session)
        key = (sequence, include_registered, kid)
        cached = _bundles.get(key)
        if cached is not None and dt.timedelta(0) <= now - cached[0] < BUNDLE_REUSE:
            return cached[1], kid, sequence
        data = build_trust_bundle(
            session, now=now, passphrase=passphrase, include_registered=include_registered
        )
    except KeyStoreError as exc:
        raise SigningUnavailable(f"the trust bundle cannot be signed now: {exc.message}") from exc
    with _bundles_lock:
        _bundles.clear()  # only the newest state is worth keeping
        _bundles[key] = (now, data)
    return data, kid, sequence


@bp.get("/trust-bundle")
@public
def trust_bundle() -> Response:
    """The trust bundle for offline scanners (CBOR, COSE_Sign1 by the registry root key).

    Bodies and their authorizations, seal keys with their validity windows, withdrawn and
    suspended certificates, a sequence number and an expiry. The root key id is in the
    X-Root-Key-Id header (base64url, as in a JWKS).
    """
    args = TrustBundleArgs().load(request.args)
    data, kid, sequence = _bundle(args["registered"])
    response = Response(data, mimetype=BUNDLE_MEDIA_TYPE)
    response.headers["X-Root-Key-Id"] = kid_b64url(kid)
    response.headers["X-Bundle-Sequence"] = str(sequence)
    response.headers["Content-Disposition"] = f'attachment; filename="trust-bundle-{sequence}.cbor"'
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/ping")
@public
def ping() -> Response:
    """A trivial answer: is the service up (the baseline of the HTTP benchmark)."""
    # Deliberately nothing else: it measures the cost of the stack alone.
    return jsonify({"ok": True})


exempt_json_writes(bp)
