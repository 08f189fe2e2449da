"""The transparency log's public routes: checkpoint, inclusion and consistency proofs, entries, key.

Everything but the checkpoint only reads rows the log never changes (nodes and events are
append-only, enforced by triggers), so once a tree size is fixed each answer is final: answers
whose parameters name every size are cacheable, the others are not.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.access import public
from app.certificates.service import SigningUnavailable
from app.database import get_reading_session, get_session
from app.log import bp
from app.log.schemas import (
    DEFAULT_PAGE,
    ConsistencyArgs,
    EntriesArgs,
    InclusionArgs,
    LogKeyArgs,
)
from registry import translog
from registry.db import utc
from registry.errors import InvalidInput, NotFound
from registry.keystore import KeyStoreError, passphrase_from_env
from registry.models import AuditEvent, LogNode

TEXT = "text/plain"  # Flask adds "; charset=utf-8"
# A proof or page for sizes the caller named never changes: the log is append-only.
FINAL = "public, max-age=86400"
CURRENT = "no-cache"
# Built once: marshmallow schemas cost more to build than to load a few parameters with.
_INCLUSION_ARGS = InclusionArgs()
_CONSISTENCY_ARGS = ConsistencyArgs()
_ENTRIES_ARGS = EntriesArgs()
_NO_ARGS = LogKeyArgs()


def _origin() -> str:
    return str(current_app.config["LOG_ORIGIN"])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _cached(response: Response, final: bool) -> Response:
    response.headers["Cache-Control"] = FINAL if final else CURRENT
    return response


def _leaf_hashes(session: Session, start: int, end: int) -> dict[int, bytes]:
    """The stored leaf hashes of ``[start, end)``: what the tree commits to, not a recomputation,
    so a client that hashes ``data`` itself checks the stored event against the log."""
    rows = session.execute(
        select(LogNode.idx, LogNode.hash).where(LogNode.level == 0, LogNode.idx >= start, LogNode.idx < end)
    )
    return {idx: bytes(hashed) for idx, hashed in rows}


def _current_size(session: Session, asked: int, name: str, *, below: bool = False) -> int:
    """The log's size, standing in for a size the caller left out; ``asked`` (the parameter
    ``name``) must fit in it, and the problem names that parameter, not the one left out."""
    size = translog.head(session).size
    if asked > size or (below and asked == size):
        bound = f"below the log's size {size}" if below else f"at most the log's size {size}"
        raise InvalidInput(f"{name} must be {bound}, got {asked}", field=name)
    return size


def _entry_view(index: int, event: AuditEvent, leaf_hash: bytes) -> dict[str, Any]:
    return {
        "index": index,
        "leaf_hash": _b64(leaf_hash),
        "data": event.canonical,
        "event": {
            "id": event.id,
            "occurred_at": utc(event.occurred_at),
            "action": event.action,
            "subject_type": event.subject_type,
            "subject_key": event.subject_key,
        },
    }


@bp.get("/checkpoint")
@public
def checkpoint() -> Response:
    """The log's current signed checkpoint (a C2SP tlog-checkpoint in a signed note).

    A new checkpoint is signed when the log has grown since the last one. The note opens with
    the key from GET /log/key; X-Log-Size repeats its tree size.
    """
    _NO_ARGS.load(request.args)
    try:
        secret = passphrase_from_env()
        # Flushes the new checkpoint; the request's transaction commits it (app.database).
        signed = translog.publish_checkpoint(
            get_session(), now=clock.now(), origin=_origin(), passphrase=secret
        )
    except KeyStoreError as exc:
        raise SigningUnavailable(f"the log's checkpoint cannot be signed now: {exc.message}") from exc
    response = Response(signed.note, mimetype=TEXT)
    response.headers["X-Log-Size"] = str(signed.size)
    return _cached(response, final=False)


@bp.get("/key")
@public
def verifier_key() -> Response:
    """The verifier key of the log's checkpoints, one line: <origin>+<key id>+<base64 key>.

    The signed-note format (the key id is 8 hex digits, the key base64 of 0x01 || the Ed25519
    public key), followed by a newline.
    """
    _NO_ARGS.load(request.args)
    try:
        verifier = translog.log_verifier(get_reading_session(), _origin(), clock.now())
    except (NotFound, KeyStoreError) as exc:
        raise SigningUnavailable(f"the log has no usable key: {exc.message}") from exc
    return _cached(Response(verifier.key_string() + "\n", mimetype=TEXT), final=False)


@bp.get("/proof/inclusion")
@public
def inclusion_proof() -> Response:
    """The RFC 9162 inclusion proof of one leaf in the tree of the given size (default: current)."""
    args = _INCLUSION_ARGS.load(request.args)
    session = get_reading_session()
    index: int = args["index"]
    size: int = args["size"] if "size" in args else _current_size(session, index, "index", below=True)
    proof = translog.inclusion_proof(session, index, size)  # checks index < size <= the log's size
    document = {
        "index": index,
        "size": size,
        "leaf_hash": _b64(_leaf_hashes(session, index, index + 1)[index]),
        "proof": [_b64(node) for node in proof],
        "root_hash": _b64(translog.root_at(session, size)),
    }
    return _cached(jsonify(document), final="size" in args)


@bp.get("/proof/consistency")
@public
def consistency_proof() -> Response:
    """The RFC 9162 consistency proof from an older tree size to a newer one (default: current)."""
    args = _CONSISTENCY_ARGS.load(request.args)
    session = get_reading_session()
    size_from: int = args["size_from"]
    size_to: int = args["size_to"] if "size_to" in args else _current_size(session, size_from, "from")
    proof = translog.consistency_proof(session, size_from, size_to)  # checks 1 <= from <= to <= size
    document = {
        "from": size_from,
        "to": size_to,
        "proof": [_b64(node) for node in proof],
        "root_from": _b64(translog.root_at(session, size_from)),
        "root_to": _b64(translog.root_at(session, size_to)),
    }
    return _cached(jsonify(document), final="size_to" in args)


@bp.get("/entries")
@public
def list_entries() -> Response:
    """Log entries start to end - 1: each leaf's audit event, with the exact text it hashes.

    At most 1,000 per request; end defaults to start + 100, capped at the log's size (so start
    equal to the size, without end, is an empty page).
    """
    args = _ENTRIES_ARGS.load(request.args)
    session = get_reading_session()
    start: int = args["start"]
    size = translog.head(session).size
    if start > size or (start == size and "end" in args):
        raise InvalidInput(f"start must be below the log's size {size}, got {start}", field="start")
    end: int = args["end"] if "end" in args else min(size, start + DEFAULT_PAGE)
    # start == size with no end: a monitor that has read everything gets an empty page.
    found = translog.entries(session, start, end) if start < end else []  # checks end <= size
    hashes = _leaf_hashes(session, start, end)
    document = {
        "start": start,
        "end": end,
        "entries": [_entry_view(index, event, hashes[index]) for index, event in found],
    }
    return _cached(jsonify(document), final="end" in args)
