"""The transparency log: every audit event is a leaf of an RFC 9162 Merkle tree, appended in the
same transaction as the change it records, with signed C2SP checkpoints.

Appending (:func:`append`, called by ``registry.audit.record``) costs three statements and reads
no stored node: the head row is updated first (``size = size + 1 ... RETURNING``), which takes
its row lock, so concurrent writers get contiguous indexes in commit order and a rolled-back
append gives its index back (no gap, no duplicate); the subtrees the leaf completes follow from
the head's frontier alone (``verify.merkle.append_to_frontier``).

Proofs read only the complete subtrees they need, all in one query: the proof functions of
``verify.merkle`` ask for the same subtrees whatever the hashes are, so a first pass with a
recorder learns which, and a second pass computes the proof from the fetched rows.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import keystore
from registry.errors import InvalidInput, NotFound
from registry.models import AuditEvent, LogCheckpoint, LogHead, LogNode
from verify import merkle
from verify.checkpoint import Checkpoint, NoteSigner, NoteVerifier, sign_checkpoint
from verify.keys import KeyState
from verify.log_proof import LogProof

HASH_SIZE = merkle.HASH_SIZE
MAX_ENTRIES = 1000  # per page of GET /log/entries
LOG_PURPOSE = "log"
GREW = "transparency_log_grew"  # session.info key set by append_many

_BUMP = (
    update(LogHead).where(LogHead.id == 1).values(size=LogHead.size + bindparam("count"))
    .returning(LogHead.size, LogHead.frontier)
)  # fmt: skip
_SET_FRONTIER = update(LogHead).where(LogHead.id == 1).values(frontier=bindparam("new_frontier"))
_INSERT_NODES = insert(LogNode)
_HEAD = select(LogHead.size, LogHead.frontier).where(LogHead.id == 1)


def leaf_data(event: AuditEvent) -> bytes:
    """The bytes a leaf logs: the event's canonical JSON (``registry.audit``), UTF-8."""
    return event.canonical.encode("utf-8")


def _split(frontier: bytes) -> list[bytes]:
    return [frontier[i : i + HASH_SIZE] for i in range(0, len(frontier), HASH_SIZE)]


def append(session: Session, event: AuditEvent) -> int:
    """Append ``event`` (already flushed) as the next leaf; returns its index."""
    return append_many(session, [event])[0]


def append_many(session: Session, events: Sequence[AuditEvent]) -> list[int]:
    """Append flushed ``events`` as the next leaves, in order; returns their indexes.

    Three statements whatever the count: the head moves by ``len(events)`` at once (its row lock
    orders concurrent writers), the completed subtrees go in one multi-row INSERT.
    """
    if not events:
        return []
    connection = session.connection()
    size, frontier_bytes = connection.execute(_BUMP, {"count": len(events)}).one()
    first = size - len(events)
    frontier = _split(frontier_bytes)
    rows: list[dict[str, Any]] = []
    for offset, event in enumerate(events):
        hashed = merkle.leaf_hash(leaf_data(event))
        frontier, completed = merkle.append_to_frontier(first + offset, frontier, hashed)
        rows.extend(
            {"level": level, "idx": idx, "hash": node, "audit_event_id": event.id if level == 0 else None}
            for level, idx, node in completed
        )
    connection.execute(_INSERT_NODES, rows)
    connection.execute(_SET_FRONTIER, {"new_frontier": b"".join(frontier)})
    session.info[GREW] = True  # a caller may publish a checkpoint before committing
    return list(range(first, size))


@dataclass(frozen=True)
class Head:
    """The log as it stands: its size and root hash."""

    size: int
    root_hash: bytes


def head(session: Session) -> Head:
    """The current size and root (from the head row: no node is read)."""
    size, frontier = session.connection().execute(_HEAD).one()
    return Head(size, merkle.root_from_frontier(_split(frontier)))


# --- proofs ---------------------------------------------------------------------------------------


class _Recorder:
    """A SubtreeHashes that records what is asked and answers with a placeholder."""

    def __init__(self) -> None:
        self.wanted: set[tuple[int, int]] = set()

    def subtree(self, level: int, index: int) -> bytes:
        self.wanted.add((level, index))
        return bytes(HASH_SIZE)


class _Fetched:
    """A SubtreeHashes over rows fetched in one query."""

    def __init__(self, hashes: dict[tuple[int, int], bytes]) -> None:
        self._hashes = hashes

    def subtree(self, level: int, index: int) -> bytes:
        try:
            return self._hashes[(level, index)]
        except KeyError:
            raise NotFound(f"the log has no stored subtree at level {level}, index {index}") from None


@functools.lru_cache(maxsize=64)
def _nodes_statement(count: int) -> Select[int, int, bytes]:
    """SELECT of ``count`` (level, idx) pairs as ``(level = ? AND idx = ?) OR ...``, built once per
    count (a proof asks for at most ~2 log2(n) nodes). Not ``(level, idx) IN (VALUES ...)``: SQLite
    3.40 reads the whole table for that (0.2 s at a million leaves); this is a primary-key search."""
    pairs = [
        and_(LogNode.level == bindparam(f"l{k}"), LogNode.idx == bindparam(f"i{k}")) for k in range(count)
    ]
    return select(LogNode.level, LogNode.idx, LogNode.hash).where(or_(*pairs))


def _fetch(session: Session, wanted: Iterable[tuple[int, int]]) -> _Fetched:
    pairs = sorted(wanted)
    hashes: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(pairs), 100):
        chunk = pairs[start : start + 100]
        params = {
            name: value
            for k, (level, idx) in enumerate(chunk)
            for name, value in ((f"l{k}", level), (f"i{k}", idx))
        }
        rows = session.connection().execute(_nodes_statement(len(chunk)), params)
        hashes.update({(level, idx): bytes(hashed) for level, idx, hashed in rows})
    return _Fetched(hashes)


def _two_pass(session: Session, compute: Callable[[merkle.SubtreeHashes], list[bytes]]) -> list[bytes]:
    recorder = _Recorder()
    compute(recorder)
    return compute(_fetch(session, recorder.wanted))


def _check_size(session: Session, size: int, name: str = "size") -> int:
    current = head(session).size
    if not 0 < size <= current:
        raise InvalidInput(f"{name} must be between 1 and the log's size {current}, got {size}", field=name)
    return current


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    """The RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
    _check_size(session, size)
    if not 0 <= index < size:
        raise InvalidInput(f"index must be between 0 and size - 1 = {size - 1}, got {index}", field="index")
    return _two_pass(session, lambda source: merkle.inclusion_proof(index, size, source))


def consistency_proof(session: Session, size1: int, size2: int) -> list[bytes]:
    """The RFC 9162 consistency proof from the tree of ``size1`` leaves to that of ``size2``."""
    _check_size(session, size2, "to")
    if not 0 < size1 <= size2:
        raise InvalidInput(f"from must be between 1 and to = {size2}, got {size1}", field="from")
    return _two_pass(session, lambda source: merkle.consistency_proof(size1, size2, source))


def root_at(session: Session, size: int) -> bytes:
    """The root hash of the tree of the first ``size`` leaves (an earlier state of the log)."""
    if size == 0:
        return merkle.EMPTY_ROOT
    _check_size(session, size)
    return _two_pass(session, lambda source: [merkle.root(size, source)])[0]


def leaf_index_of(session: Session, audit_event_id: int) -> int | None:
    """The leaf index of an audit event, or None (an event never logged)."""
    return session.scalar(
        select(LogNode.idx).where(LogNode.level == 0, LogNode.audit_event_id == audit_event_id)
    )


def entries(session: Session, start: int, end: int) -> list[tuple[int, AuditEvent]]:
    """Leaves ``start`` to ``end - 1`` with their audit events (at most MAX_ENTRIES)."""
    size = head(session).size
    if not 0 <= start < end:
        raise InvalidInput(f"need 0 <= start < end, got start={start}, end={end}", field="start")
    if end - start > MAX_ENTRIES:
        raise InvalidInput(
            f"at most {MAX_ENTRIES} entries per request, asked for {end - start}",
            field="end",
            limit=MAX_ENTRIES,
        )
    if end > size:
        raise InvalidInput(f"end must be at most the log's size {size}, got {end}", field="end")
    rows = session.execute(
        select(LogNode.idx, AuditEvent)
        .join(AuditEvent, AuditEvent.id == LogNode.audit_event_id)
        .where(LogNode.level == 0, LogNode.idx >= start, LogNode.idx < end)
        .order_by(LogNode.idx)
    )
    return [(idx, event) for idx, event in rows]


# --- checkpoints ----------------------------------------------------------------------------------


def log_signer(session: Session, origin: str, passphrase: bytes) -> NoteSigner:
    """The note signer of the log's active key (keystore purpose "log"), named ``origin``."""
    _, private_key = keystore.active_signer(session, LOG_PURPOSE, passphrase)
    return NoteSigner(origin, private_key)


def log_verifier(session: Session, origin: str, now: dt.datetime) -> NoteVerifier:
    """The verifier key of the log's active key: ``<origin>+<key id>+<base64 key>``."""
    for entry in keystore.load_ring(session, LOG_PURPOSE).entries():
        if entry.state is KeyState.ACTIVE:
            return NoteVerifier.from_public_key(origin, entry.public_key)
    raise NotFound("the log has no active key yet (registry keys generate --purpose log)")


def latest_checkpoint(session: Session) -> LogCheckpoint | None:
    """The checkpoint of the largest size signed so far."""
    return session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1))


def publish_checkpoint(
    session: Session, *, now: dt.datetime, origin: str, passphrase: bytes
) -> LogCheckpoint:
    """The signed checkpoint of the log as it stands, by the active log key under ``origin``,
    signing (and keeping) a new one if the log has grown or the key changed since.

    A checkpoint is log metadata, not a registry change: it writes no audit event (which would
    itself grow the log). Two callers signing the same size at once: the second gets the first's.
    A checkpoint under another origin than the one kept is signed but not kept.
    """
    current = head(session)
    record = keystore.active_record(session, LOG_PURPOSE)
    if record is None:
        raise keystore.KeyStoreError("there is no active log key (registry keys generate --purpose log)")
    kept = session.scalar(
        select(LogCheckpoint).where(LogCheckpoint.size == current.size, LogCheckpoint.kid == record.kid)
    )
    if kept is not None and kept.note.startswith(f"{origin}\n"):
        return kept
    note = sign_checkpoint(
        Checkpoint(origin, current.size, current.root_hash), log_signer(session, origin, passphrase)
    )
    checkpoint = LogCheckpoint(
        size=current.size,
        root_hash=current.root_hash,
        kid=record.kid,
        note=note,
        created_at=now.astimezone(dt.UTC),
    )
    if kept is not None:
        return checkpoint  # another origin than the kept one: answered, not kept
    try:
        with session.begin_nested():
            session.add(checkpoint)
    except IntegrityError:  # someone else signed this size with this key a moment ago
        found = session.scalar(
            select(LogCheckpoint).where(LogCheckpoint.size == current.size, LogCheckpoint.kid == record.kid)
        )
        if found is None:
            raise
        return found
    return checkpoint


def log_proof(session: Session, index: int, checkpoint: LogCheckpoint) -> LogProof:
    """Leaf ``index`` with its inclusion proof against ``checkpoint`` (see
    :func:`publish_checkpoint`, which may sign it in a transaction of its own)."""
    found = entries(session, index, index + 1)
    if not found or index >= checkpoint.size:
        raise NotFound(f"the log has no leaf {index}")
    return LogProof(
        index=index,
        size=checkpoint.size,
        checkpoint=checkpoint.note,
        leaf=leaf_data(found[0][1]).decode("utf-8"),
        proof=tuple(inclusion_proof(session, index, checkpoint.size)),
    )
