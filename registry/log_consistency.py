"""Consistency with a saved checkpoint: does the log today extend a checkpoint saved earlier?

Part of the log audit (``registry.log_audit``, which re-exports these names). Its replay checks
the log against itself and the tables, so it cannot see a log rewritten wholesale, stored hashes
and all; :func:`check_consistency` can, given a signed checkpoint kept outside the database: it
verifies the saved note under the log's keys (:func:`log_verifiers`), then a consistency proof
from the saved size to the current head.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from registry import keystore, translog
from registry.errors import InvalidInput, NotFound
from verify import merkle
from verify.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteError,
    NoteKeyError,
    NoteVerifier,
    UnverifiedNote,
    open_checkpoint,
)
from verify.keys import KeyState


@dataclass(frozen=True)
class ConsistencyResult:
    """Whether the log today extends a checkpoint saved earlier; ``problem`` says why not."""

    current_size: int
    current_root: bytes
    saved_size: int | None = None
    saved_root: bytes | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def log_verifiers(session: Session, origin: str) -> list[NoteVerifier]:
    """Verifiers named ``origin`` for the log's active and retired keys: a checkpoint saved before
    a key rotation was signed by the key now retired. Revoked keys vouch for nothing."""
    return [
        NoteVerifier.from_public_key(origin, entry.public_key)
        for entry in keystore.load_ring(session, translog.LOG_PURPOSE).entries()
        if entry.state is not KeyState.REVOKED
    ]


def check_consistency(
    session: Session, saved_checkpoint_note: str | bytes, verifier: NoteVerifier | Sequence[NoteVerifier]
) -> ConsistencyResult:
    """Check that the log now extends ``saved_checkpoint_note`` (a signed checkpoint kept outside).

    The note must verify under ``verifier`` (or one of several, e.g. :func:`log_verifiers`),
    whose name is the log's origin and must be the checkpoint's first line. Never raises for a
    bad checkpoint: a bad signature, another log, a checkpoint larger than the log, or a log that
    does not extend it (rewritten) are each a ``problem``.
    """
    current = translog.head(session)
    verifiers = [verifier] if isinstance(verifier, NoteVerifier) else list(verifier)
    if not verifiers:
        return ConsistencyResult(current.size, current.root_hash,
                                 problem="the log has no key to verify the saved checkpoint with")
    try:
        saved = _open_saved(saved_checkpoint_note, verifiers)
    except (NoteError, CheckpointError, NoteKeyError) as exc:
        return ConsistencyResult(current.size, current.root_hash,
                                 problem=f"the saved checkpoint does not verify: {exc}")
    result = ConsistencyResult(current.size, current.root_hash, saved.size, saved.root_hash)
    if saved.size > current.size:
        return _with(result, f"the saved checkpoint is of {saved.size} leaves but the log holds only "
                             f"{current.size}: the log was truncated or rewritten")
    if saved.size == 0:
        empty = saved.root_hash == merkle.EMPTY_ROOT
        return result if empty else _with(result, "the saved checkpoint of an empty log has a root")
    try:
        proof = translog.consistency_proof(session, saved.size, current.size)
        merkle.verify_consistency(saved.size, current.size, proof, saved.root_hash, current.root_hash)
    except (merkle.MerkleError, NotFound, InvalidInput) as exc:
        return _with(result, f"the log of {current.size} leaves does not extend the saved checkpoint of "
                             f"{saved.size} leaves ({exc}): the log was rewritten")
    return result


def _open_saved(note: str | bytes, verifiers: Sequence[NoteVerifier]) -> Checkpoint:
    unverified: UnverifiedNote | None = None
    for candidate in verifiers:
        try:
            return open_checkpoint(note, candidate, candidate.name)
        except UnverifiedNote as exc:  # another key's signature: try the next key
            unverified = exc
    assert unverified is not None
    raise unverified


def _with(result: ConsistencyResult, problem: str) -> ConsistencyResult:
    return dataclasses.replace(result, problem=problem)
