"""The large log of translog_bench.py (2): built directly, then its proofs timed and checked.

The log is built without audit events: nodes computed in Python with
``verify.merkle.append_to_frontier`` over synthetic leaf data, bulk-inserted as ``log_node`` rows
(binary COPY on PostgreSQL, one executemany per batch on SQLite), then the ``log_head`` row gets
the size and frontier. Proofs are asked of ``registry.translog`` as a request would, and every one
is checked with ``verify.merkle`` against roots computed in memory.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from registry import migrate, translog
from registry.models import LogHead
from verify import merkle

INSERT_BATCH = 200_000  # leaves per bulk insert (about twice as many node rows)
SIZE_SPREAD = 0.01  # proof sizes are drawn from the last 1 % of the log
MIN_CALLS = 100  # timed calls per proof row before the time budget may stop it


def percentile(values: list[float], pct: int) -> float:
    """The ``pct``-th percentile (inclusive method, as the other benchmarks)."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


class MemoryLevels:
    """Every complete subtree of the built log, kept in memory: the SubtreeHashes the checks use."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = []

    def add(self, level: int, index: int, hashed: bytes) -> None:
        """Record a completed subtree (they arrive in index order within each level)."""
        while len(self.levels) <= level:
            self.levels.append([])
        assert len(self.levels[level]) == index, "subtrees must arrive in order"
        self.levels[level].append(hashed)

    def subtree(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree at ``(level, index)``."""
        return self.levels[level][index]


def synthetic_leaf(index: int) -> bytes:
    """The data of synthetic leaf ``index`` (never an audit event: the build bypasses them)."""
    return f"translog-bench leaf {index}".encode()


def _insert_nodes(cursor: Any, dialect: str, rows: list[tuple[int, int, bytes]]) -> None:
    if dialect == "postgresql":
        # Binary COPY: no text escaping of 32-byte hashes; audit_event_id takes its NULL default.
        with cursor.copy("COPY log_node (level, idx, hash) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int2", "int8", "bytea"])
            for row in rows:
                copy.write_row(row)
    else:
        cursor.executemany("INSERT INTO log_node (level, idx, hash) VALUES (?, ?, ?)", rows)


def build_log(engine: Engine, leaves: int) -> tuple[MemoryLevels, list[bytes], float, float]:
    """Fill the (empty) log with ``leaves`` synthetic leaves; returns the subtrees, the frontier,
    the seconds spent hashing in Python and the seconds spent in the database."""
    with Session(engine) as session:
        size = translog.head(session).size
    if size != 0:
        raise SystemExit(f"the fresh database's log already holds {size} leaves; expected none")
    memory = MemoryLevels()
    frontier: list[bytes] = []
    hashing = storing = 0.0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN")  # registry.db puts pysqlite in autocommit mode: one transaction
        for start in range(0, leaves, INSERT_BATCH):
            began = time.perf_counter()
            rows: list[tuple[int, int, bytes]] = []
            for index in range(start, min(leaves, start + INSERT_BATCH)):
                frontier, completed = merkle.append_to_frontier(
                    index, frontier, merkle.leaf_hash(synthetic_leaf(index))
                )
                rows.extend(completed)
            for row in rows:
                memory.add(*row)
            stored = time.perf_counter()
            _insert_nodes(cursor, engine.dialect.name, rows)
            hashing, storing = hashing + stored - began, storing + time.perf_counter() - stored
        began = time.perf_counter()
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        conn.execute(update(LogHead).where(LogHead.id == 1).values(size=leaves, frontier=b"".join(frontier)))
    # Planner statistics, as after any bulk load (autovacuum would do it on PostgreSQL soon after).
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE log_node")
    else:
        migrate.refresh_statistics(engine)
    return memory, frontier, hashing, storing + time.perf_counter() - began


@dataclass
class ProofTimes:
    label: str
    latencies_ms: list[float] = field(default_factory=list)
    checked: int = 0
    wrong: list[str] = field(default_factory=list)


def time_calls(
    factory: sessionmaker, label: str, calls: list[Callable[[Session], Any]], budget_s: float
) -> tuple[ProofTimes, list[Any]]:
    """Run each call in its own short transaction (as a request does); time it end to end.

    Stops early, after at least MIN_CALLS, once ``budget_s`` seconds are spent: a slow backend
    cannot stretch the run past a few minutes (the ``n`` column shows how many were timed).
    """
    times = ProofTimes(label)
    results: list[Any] = []
    for call in calls[:3]:  # warm the pool and the statement caches; not timed
        with factory.begin() as session:
            call(session)
    deadline = time.perf_counter() + budget_s
    for call in calls:
        if len(results) >= MIN_CALLS and time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        with factory.begin() as session:
            results.append(call(session))
        times.latencies_ms.append((time.perf_counter() - started) * 1000)
    return times, results


def proof_benchmark(
    factory: sessionmaker, memory: MemoryLevels, count: int, seed: int, budget_s: float
) -> list[ProofTimes]:
    """Time ``count`` inclusion and consistency proofs at sizes near the log's, then check them all."""
    rng = random.Random(seed)
    size = len(memory.levels[0])
    low = max(1, size - int(size * SIZE_SPREAD))
    inclusion = [(rng.randrange(n), n) for n in (rng.randint(low, size) for _ in range(count))]
    consistency = [(rng.randint(1, n), n) for n in (rng.randint(low, size) for _ in range(count))]

    baseline, _ = time_calls(factory, "baseline: translog.head in a fresh transaction",
                             [translog.head] * count, budget_s)
    included, inclusion_proofs = time_calls(factory, "translog.inclusion_proof(index, size)", [
        partial(translog.inclusion_proof, index=i, size=n) for i, n in inclusion
    ], budget_s)  # fmt: skip
    consistent, consistency_proofs = time_calls(factory, "translog.consistency_proof(a, b)", [
        partial(translog.consistency_proof, size1=a, size2=b) for a, b in consistency
    ], budget_s)  # fmt: skip

    roots: dict[int, bytes] = {}

    def root(n: int) -> bytes:
        if n not in roots:
            roots[n] = merkle.root(n, memory)
        return roots[n]

    for (index, n), proof in zip(inclusion[: len(inclusion_proofs)], inclusion_proofs, strict=True):
        try:
            merkle.verify_inclusion(memory.subtree(0, index), index, n, proof, root(n))
            included.checked += 1
        except merkle.MerkleError as exc:
            included.wrong.append(f"inclusion of {index} in {n}: {exc}")
    for (a, b), proof in zip(consistency[: len(consistency_proofs)], consistency_proofs, strict=True):
        try:
            merkle.verify_consistency(a, b, proof, root(a), root(b))
            consistent.checked += 1
        except merkle.MerkleError as exc:
            consistent.wrong.append(f"consistency {a} -> {b}: {exc}")
    return [baseline, included, consistent]


def check_head(factory: sessionmaker, memory: MemoryLevels, frontier: list[bytes]) -> str:
    """Compare the stored head's root with two in-memory roots; an empty string when all agree."""
    leaf_hashes = memory.levels[0]
    by_definition = merkle.root_from_leaf_hashes(leaf_hashes)  # RFC 9162 recursion, no subtree code
    with factory.begin() as session:
        stored = translog.head(session)
    if stored.size != len(leaf_hashes):
        return f"stored size {stored.size} != {len(leaf_hashes)} leaves built"
    if not stored.root_hash == merkle.root_from_frontier(frontier) == by_definition:
        return "the stored head's root differs from the root computed in memory"
    return ""
