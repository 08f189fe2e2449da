"""The log audit: replay the transparency log against the database, and check a saved checkpoint.

:func:`replay` reads every leaf in index order, a page at a time, and checks the log itself
(each leaf hash against the audit event's canonical bytes as stored now, every stored subtree and
checkpoint and the head against the tree rebuilt from the stored leaf hashes, every audit event
logged exactly once), then compares the state the logged events imply with the tables
(``registry.log_state``). An edit made straight in SQL shows up either as a leaf that no longer
matches its event or as a row that no longer matches its last logged snapshot.

The tree is rebuilt from the *stored* leaf hashes, so an edited event is named once (its leaf),
not again in every subtree and root above it; a leaf hash forged to match the edit is then
named by the subtrees, checkpoints and head that no longer agree with it.

:func:`check_consistency` (``registry.log_consistency``, re-exported here) proves that the log
today extends a checkpoint saved earlier (outside the database): what catches a log rewritten
wholesale, stored hashes and all.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from registry import audit, keystore, log_state, translog
from registry.errors import InvalidInput
from registry.log_consistency import (  # noqa: F401  (re-exported: the check against a saved checkpoint)
    ConsistencyResult,
    check_consistency,
    log_verifiers,
)
from registry.models import AuditEvent, LogCheckpoint, LogNode
from verify import merkle
from verify.checkpoint import (
    CheckpointError,
    NoteError,
    NoteKeyError,
    NoteVerifier,
    open_note,
    parse_checkpoint,
)

PAGE_SIZE = 1000
HASH_SIZE = merkle.HASH_SIZE

# Kinds of difference, most specific first.
LEAF_HASH = "leaf-hash"  # an audit event edited after it was logged
EVENT_COLUMNS = "event-columns"  # an audit event's columns no longer say what its canonical text says
UNREADABLE_EVENT = "unreadable-event"
LEAF_INDEX = "leaf-index"
LEAF_WITHOUT_EVENT = "leaf-without-event"
EVENT_NOT_LOGGED = "event-not-logged"
SUBTREE = "subtree"
CHECKPOINT = "checkpoint"
HEAD = "head"
CHANGED, UNLOGGED, MISSING = "changed", "unlogged", "missing"  # table rows (registry.log_state)


@dataclass(frozen=True)
class Difference:
    """One thing the database says that the log does not: what kind, about what, and how."""

    kind: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


@dataclass
class AuditReport:
    """What :func:`replay` checked and every difference it found."""

    leaves_checked: int = 0
    audit_events: int = 0
    subtrees_checked: int = 0
    checkpoints_checked: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    rows_compared: Counter[str] = field(default_factory=Counter)
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the log is intact and the tables hold exactly what it implies."""
        return not self.differences

    @property
    def not_compared(self) -> Counter[str]:
        """Logged events of subject types with no snapshot to compare (users, tokens, imports)."""
        compared = {*log_state.SNAPSHOT_TYPES, log_state.SEAL}
        return Counter({t: n for t, n in self.events_by_type.items() if t not in compared})

    def add(self, kind: str, subject: str, detail: str) -> None:
        """Record a difference."""
        self.differences.append(Difference(kind, subject, detail))


# --- replay ---------------------------------------------------------------------------------------

# Plain rows, not ORM objects: faster, and never the session's (possibly stale) copy of an event.
_LEAVES = (
    select(
        LogNode.idx, LogNode.hash, LogNode.audit_event_id, AuditEvent.id.label("event_id"),
        AuditEvent.canonical, AuditEvent.occurred_at, AuditEvent.actor, AuditEvent.action,
        AuditEvent.subject_type, AuditEvent.subject_key, AuditEvent.before, AuditEvent.after,
        AuditEvent.reason,
    )
    .outerjoin(AuditEvent, AuditEvent.id == LogNode.audit_event_id)
    .where(LogNode.level == 0)
    .order_by(LogNode.idx)
)


def _leaf_pages(session: Session, page_size: int) -> Iterator[list[Any]]:
    next_index = 0
    while True:
        page = list(session.execute(_LEAVES.where(LogNode.idx >= next_index).limit(page_size)))
        if not page:
            return
        yield page
        next_index = page[-1].idx + 1


def _checkpoints(session: Session, page_size: int) -> Iterator[Any]:
    """The stored checkpoints (size, root_hash, note rows), smallest first."""
    last_size = -1
    while True:
        page = list(session.execute(
            select(LogCheckpoint.size, LogCheckpoint.root_hash, LogCheckpoint.note)
            .where(LogCheckpoint.size > last_size).order_by(LogCheckpoint.size).limit(page_size)
        ))
        yield from page
        if len(page) < page_size:
            return
        last_size = page[-1].size


def _columns_canonical(event: Any) -> str:
    """The canonical text the event's columns would give (as ``registry.audit.record`` writes it)."""
    return audit.canonical_json({
        "v": audit.CANONICAL_VERSION,
        "occurred_at": keystore.utc(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "subject": {"type": event.subject_type, "key": event.subject_key},
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
    })


def _parse_event(canonical: str) -> dict[str, Any]:
    """The logged event; ValueError when it is not an audit event's canonical JSON."""
    event = json.loads(canonical)
    subject = event.get("subject") if isinstance(event, dict) else None
    if not isinstance(subject, dict) or not all(isinstance(subject.get(k), str) for k in ("type", "key")):
        raise ValueError("no subject type and key")
    if not isinstance(event.get("action"), str) or "after" not in event:
        raise ValueError("no action or after")
    return event


class _TreeCheck:
    """Rebuilds the tree leaf by leaf and holds the stored subtrees and checkpoints against it."""

    def __init__(self, session: Session, report: AuditReport, page_size: int) -> None:
        self.session, self.report = session, report
        self.size = 0
        self.frontier: list[bytes] = []
        self.broken = False  # a missing leaf: the rebuilt tree no longer means anything
        self.expected: dict[tuple[int, int], bytes] = {}
        self.verifiers: dict[str, list[NoteVerifier]] = {}  # by origin, to check stored notes
        self.checkpoints = _checkpoints(session, page_size)
        self.next_checkpoint = next(self.checkpoints, None)
        self._check_checkpoints()  # one at size 0, if any

    def append(self, index: int, stored: bytes, recomputed: bytes | None) -> None:
        if self.broken:
            return
        if index != self.size:
            self.report.add(LEAF_INDEX, f"leaf {self.size}",
                            f"missing: the next stored leaf is {index}; the tree is not checked past it")
            self.broken = True
            return
        if len(stored) != HASH_SIZE:
            self.report.add(LEAF_HASH, f"leaf {index}", f"stored hash has {len(stored)} bytes")
            stored = recomputed or bytes(HASH_SIZE)
        self.frontier, completed = merkle.append_to_frontier(self.size, self.frontier, stored)
        self.size += 1
        self.expected.update({(level, idx): hashed for level, idx, hashed in completed if level > 0})
        self._check_checkpoints()

    def check_subtrees(self) -> None:
        """Compare the subtrees the last page of leaves completed with the stored ones (one query)."""
        if not self.expected:
            return
        by_level: dict[int, list[int]] = {}
        for level, idx in self.expected:
            by_level.setdefault(level, []).append(idx)
        ranges = [and_(LogNode.level == level, LogNode.idx.between(min(ids), max(ids)))
                  for level, ids in by_level.items()]
        stored = {
            (level, idx): bytes(hashed)
            for level, idx, hashed in self.session.execute(
                select(LogNode.level, LogNode.idx, LogNode.hash).where(or_(*ranges))
            )
        }
        for (level, idx), hashed in sorted(self.expected.items()):
            found = stored.get((level, idx))
            subject = f"subtree level {level} index {idx}"
            if found is None:
                self.report.add(SUBTREE, subject, "missing from log_node")
            elif found != hashed:
                self.report.add(SUBTREE, subject, f"stored hash {found.hex()} differs from the hash of "
                                                  f"its leaves {hashed.hex()}: the node was forged")
        self.report.subtrees_checked += len(self.expected)
        self.expected.clear()

    def _check_checkpoints(self) -> None:
        while self.next_checkpoint is not None and self.next_checkpoint.size <= self.size:
            checkpoint = self.next_checkpoint
            if checkpoint.size == self.size and not self.broken:
                self.report.checkpoints_checked += 1
                rebuilt = merkle.root_from_frontier(self.frontier)
                if bytes(checkpoint.root_hash) != rebuilt:
                    self.report.add(CHECKPOINT, f"checkpoint of size {checkpoint.size}",
                                    f"root {bytes(checkpoint.root_hash).hex()} differs from the root of "
                                    f"the first {checkpoint.size} leaves {rebuilt.hex()}")
                self._check_note(checkpoint)
            self.next_checkpoint = next(self.checkpoints, None)

    def _check_note(self, checkpoint: Any) -> None:
        """The stored note must say the row's size and root, signed by one of the log's keys."""
        subject = f"checkpoint of size {checkpoint.size}"
        try:
            said = parse_checkpoint(checkpoint.note[: checkpoint.note.rfind("\n\n") + 1])
            if said.origin not in self.verifiers:
                ring = keystore.load_ring(self.session, translog.LOG_PURPOSE)
                self.verifiers[said.origin] = [
                    NoteVerifier.from_public_key(said.origin, entry.public_key) for entry in ring.entries()
                ]
            open_note(checkpoint.note, self.verifiers[said.origin])
        except (NoteError, CheckpointError, NoteKeyError) as exc:
            self.report.add(CHECKPOINT, subject, f"its note does not verify under the log's keys: {exc}")
            return
        if (said.size, said.root_hash) != (checkpoint.size, bytes(checkpoint.root_hash)):
            self.report.add(CHECKPOINT, subject, f"its signed note says size {said.size}, root "
                                                 f"{said.root_hash.hex()}, not the stored size and root")

    def finish(self) -> None:
        """Checkpoints beyond the log, stored nodes no leaf completed, and the head."""
        self.check_subtrees()
        leaves = self.report.leaves_checked
        if not self.broken:  # past a missing leaf, "beyond the log" would be wrong
            for checkpoint in [self.next_checkpoint, *self.checkpoints]:
                if checkpoint is not None:
                    self.report.add(CHECKPOINT, f"checkpoint of size {checkpoint.size}",
                                    f"larger than the {self.size} leaves the log holds")
        head = translog.head(self.session)
        rebuilt = merkle.root_from_frontier(self.frontier)
        if head.size != leaves:
            self.report.add(HEAD, "log_head", f"size {head.size}, but the log holds {leaves} leaves")
        elif not self.broken and head.root_hash != rebuilt:
            self.report.add(HEAD, "log_head", f"root {head.root_hash.hex()} differs from the root of the "
                                              f"leaves {rebuilt.hex()}")
        if not self.broken:
            self._check_extra_nodes()

    def _check_extra_nodes(self) -> None:
        # A tree of n leaves has n - popcount(n) complete subtrees above the leaves.
        stored = self.session.scalar(select(func.count()).select_from(LogNode).where(LogNode.level > 0))
        if (stored or 0) <= self.size - self.size.bit_count():
            return
        levels = self.session.scalars(select(LogNode.level).where(LogNode.level > 0).distinct())
        for level in sorted(levels):
            for idx in self.session.scalars(
                select(LogNode.idx).where(LogNode.level == level, LogNode.idx >= self.size >> level)
            ):
                self.report.add(SUBTREE, f"subtree level {level} index {idx}",
                                f"stored, but no subtree of a log of {self.size} leaves")


def _check_leaf(row: Any, tree: _TreeCheck, state: log_state.ImpliedState, report: AuditReport) -> None:
    index, stored = row.idx, bytes(row.hash)
    subject = f"leaf {index}"
    if row.event_id is None:
        report.add(LEAF_WITHOUT_EVENT, subject, "logs no audit event" if row.audit_event_id is None
                   else f"logs audit event #{row.audit_event_id}, gone")
        tree.append(index, stored, None)
        return
    # The leaf's data as translog.leaf_data defines it: the canonical JSON, UTF-8.
    recomputed = merkle.leaf_hash(row.canonical.encode("utf-8"))
    if stored != recomputed:
        report.add(LEAF_HASH, subject, f"stored hash differs from the hash of audit event #{row.event_id} "
                                       "as stored now: the event was edited after it was logged")
    tree.append(index, stored, recomputed)
    try:
        logged = _parse_event(row.canonical)
    except ValueError as exc:
        report.add(UNREADABLE_EVENT, f"audit event #{row.event_id}", f"canonical text is not an event: {exc}")
        return
    from_columns = _columns_canonical(row)
    if from_columns != row.canonical:
        report.add(EVENT_COLUMNS, f"audit event #{row.event_id}",
                   "its columns differ from its logged canonical text: "
                   + "; ".join(log_state.field_differences(logged, json.loads(from_columns))))
    state.apply(row.event_id, logged, index)


def _check_membership(session: Session, report: AuditReport, page_size: int) -> None:
    """Every audit event is a leaf, once."""
    report.audit_events = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    last_id = 0
    unlogged = (
        select(AuditEvent.id)
        .outerjoin(LogNode, and_(LogNode.audit_event_id == AuditEvent.id, LogNode.level == 0))
        .where(LogNode.idx.is_(None))
        .order_by(AuditEvent.id)
    )
    while ids := list(session.scalars(unlogged.where(AuditEvent.id > last_id).limit(page_size))):
        for event_id in ids:
            report.add(EVENT_NOT_LOGGED, f"audit event #{event_id}", "no leaf of the log holds it")
        last_id = ids[-1]
    twice = session.execute(
        select(LogNode.audit_event_id, func.count())
        .where(LogNode.level == 0, LogNode.audit_event_id.is_not(None))
        .group_by(LogNode.audit_event_id).having(func.count() > 1)
    )
    for repeated_id, count in twice:
        report.add(LEAF_INDEX, f"audit event #{repeated_id}", f"logged {count} times")


def replay(session: Session, *, page_size: int = PAGE_SIZE) -> AuditReport:
    """Replay the whole log, check it, and compare the state it implies with the tables.

    Reads only (the caller may roll back). For a consistent picture run it in one snapshot
    (PostgreSQL: REPEATABLE READ); memory grows with the number of subjects, not of events.
    """
    if page_size < 1:
        raise InvalidInput("page_size must be positive", field="page_size")
    session.flush()
    report = AuditReport()
    state = log_state.ImpliedState()
    tree = _TreeCheck(session, report, page_size)
    for page in _leaf_pages(session, page_size):
        for row in page:
            _check_leaf(row, tree, state, report)
        report.leaves_checked += len(page)
        tree.check_subtrees()
    tree.finish()
    _check_membership(session, report, page_size)
    report.events_by_type = state.events_by_type
    report.rows_compared = log_state.compare(session, state, report.add, page_size)
    return report
