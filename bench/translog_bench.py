"""Transparency-log benchmark: what logging costs a registry change, and proof latency at 1M leaves.

    .venv/bin/python bench/translog_bench.py [--backend sqlite|postgresql|both] [--rounds 5]
                                             [--changes 400] [--leaves 1000000] [--proofs 1000]
                                             [--row-seconds 120] [--parts both|appends|proofs]
                                             [--pg-url URL] [--keep]

Per backend, one fresh database (a SQLite file under /tmp; a private PostgreSQL database
``bench_translog_<pid>`` next to --pg-url, dropped at the end), migrated with
``registry.migrate.upgrade``:

(2) Proofs. A log of --leaves synthetic leaves is built directly: the nodes are computed in Python
    with ``verify.merkle.append_to_frontier`` and bulk-inserted as ``log_node`` rows (COPY on
    PostgreSQL, executemany on SQLite), then ``log_head`` gets the size and frontier; no audit
    event is written. Then ``translog.inclusion_proof`` and ``translog.consistency_proof`` are
    timed for --proofs random pairs each, sizes within 1 % of the log's size, each call in a fresh
    short transaction as a request would make it (a row stops after --row-seconds, with at least
    100 calls, so a slow backend cannot stretch the run). Baseline: ``translog.head`` alone in a fresh
    transaction (one query, the floor of any proof request). Every proof is then checked with
    ``verify.merkle.verify_inclusion`` / ``verify_consistency`` against roots computed in memory
    (the full-size root also by the RFC's own recursion), so the figures are of correct proofs.
(1) Appends, measured on top of that log (so at a production-sized tree). A change is a real
    certificate status change through ``registry.certificates.change_certificate_status`` in its
    own committed transaction: each round suspends --changes/2 certificates and restores them.
    "Log off" rounds run the very same changes with ``registry.translog.append_many`` (what
    ``registry.audit.record`` calls; ``translog.append`` wraps it) patched to a no-op in this
    process, restored after each such round: the audit events are still written, only the log's
    three statements are missing; the log's size is checked after every round. On and off rounds
    alternate on-off, off-on, ... so drift and bursts of load hit both. The cost of the append
    itself is timed per call inside the log-on rounds (the timer adds well under a microsecond).

Targets: log-on changes/s >= 0.8 x log-off (median of the per-round ratios); proof p95 < 5 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages live in the repo root

from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bench.databases import credit_code, postgres_database, sqlite_database  # noqa: E402
from bench.translog_proofs import (  # noqa: E402
    MIN_CALLS,
    SIZE_SPREAD,
    ProofTimes,
    build_log,
    check_head,
    percentile,
    proof_benchmark,
)
from registry import migrate, translog  # noqa: E402
from registry.authorizations import AuthorizationInput, grant_authorization  # noqa: E402
from registry.bodies import BodyInput, create_body  # noqa: E402
from registry.certificates import (  # noqa: E402
    CertificateInput,
    PartyInput,
    TestReportInput,
    change_certificate_status,
    register_certificate,
)
from registry.db import make_engine, make_session_factory  # noqa: E402
from registry.models import AuditEvent  # noqa: E402

TARGET_RATIO = 0.8
TARGET_P95_MS = 5.0
DEFAULT_PG_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
ACTOR = "bench"
BODY_CODE, LAB_CODE = "TLB-CB", "TLB-LAB"


# --- databases ------------------------------------------------------------------------------------


# --- (1) appends: the same changes with the log on and off ----------------------------------------


def seed_certificates(factory: sessionmaker, count: int, now: dt.datetime) -> list[str]:
    """A certification body, a lab and ``count`` valid certificates, through the services."""
    today = now.date()
    with factory.begin() as session:
        for n, (code, kind) in enumerate(((BODY_CODE, "certification_body"), (LAB_CODE, "testing_lab"))):
            body = BodyInput(code=code, kind=kind, name_zh=f"基准测试机构{n}", credit_code=credit_code(n + 1),
                             province="11")
            create_body(session, body, actor=ACTOR, now=now)
            grant_authorization(session, code, AuthorizationInput(
                jurisdiction="CN", scheme="CCC", category="mask", valid_from=today - dt.timedelta(days=900),
            ), actor=ACTOR, now=now, reason="designated")  # fmt: skip
        holder = PartyInput(name_zh="基准防护用品有限公司", credit_code=credit_code(11))
        maker = PartyInput(name_zh="基准制造有限公司", credit_code=credit_code(12))
        numbers = [f"TLB{n:07d}" for n in range(count)]
        for number in numbers:
            register_certificate(session, BODY_CODE, CertificateInput(
                number=number, holder=holder, manufacturer=maker, category="mask", jurisdiction="CN",
                scheme="CCC", product_name="KN95 respirator", issue_date=today - dt.timedelta(days=30),
                expiry_date=today + dt.timedelta(days=3 * 365),
                test_reports=[TestReportInput(LAB_CODE, f"R-{number}", today - dt.timedelta(days=40))],
            ), actor=ACTOR, now=now)  # fmt: skip
    return numbers


def change_round(factory: sessionmaker, numbers: list[str]) -> tuple[float, float]:
    """Suspend then restore every certificate, one committed transaction per change; returns the
    wall-clock seconds and the CPU seconds of this process."""
    started, cpu = time.perf_counter(), time.process_time()
    for new_status in ("suspended", "valid"):
        for number in numbers:
            with factory.begin() as session:
                change_certificate_status(session, BODY_CODE, number, new_status, reason="benchmark",
                                          actor=ACTOR, now=dt.datetime.now(dt.UTC))
    return time.perf_counter() - started, time.process_time() - cpu


# What registry.audit.record / record_many call: translog.append is a wrapper around it.
APPEND_HOOK = "append_many"


def _no_append(session: Session, events: Sequence[AuditEvent]) -> list[int]:
    return [-1] * len(events)


@contextmanager
def log_off() -> Iterator[None]:
    """``registry.translog.append_many`` as a no-op for the duration, then restored."""
    with mock.patch.object(translog, APPEND_HOOK, _no_append):
        yield


@contextmanager
def timed_appends(into: list[float]) -> Iterator[None]:
    """The real ``translog.append_many``, with the time of each call added to ``into`` (in µs)."""
    real = getattr(translog, APPEND_HOOK)

    def timed(session: Session, events: Sequence[AuditEvent]) -> list[int]:
        started = time.perf_counter()
        try:
            return real(session, events)
        finally:
            into.append((time.perf_counter() - started) * 1e6)

    with mock.patch.object(translog, APPEND_HOOK, timed):
        yield


def log_size(factory: sessionmaker) -> int:
    with factory.begin() as session:
        return translog.head(session).size


@dataclass
class Round:
    order: str
    on: float  # changes per wall-clock second, log on
    off: float
    on_cpu: float  # changes per CPU second of this process, log on
    off_cpu: float


@dataclass
class AppendResults:
    rounds: list[Round]
    append_us: list[float]
    log_size: int


def append_benchmark(factory: sessionmaker, rounds: int, changes: int) -> AppendResults:
    """Alternate log-on and log-off rounds of the same changes; time the appends in the on ones.

    Checks after every round that the log grew by one leaf per change (on) or not at all (off),
    so a refactoring that routes appends elsewhere cannot silently turn this into on-vs-on.
    """
    numbers = seed_certificates(factory, max(1, changes // 2), dt.datetime.now(dt.UTC))
    per_round = 2 * len(numbers)
    change_round(factory, numbers)  # warm-up of both paths, not timed
    with log_off():
        change_round(factory, numbers)
    results: list[Round] = []
    append_us: list[float] = []
    for k in range(rounds):
        on_first = k % 2 == 0
        rate: dict[bool, tuple[float, float]] = {}
        for log_on in (on_first, not on_first):
            before = log_size(factory)
            with timed_appends(append_us) if log_on else log_off():
                wall, cpu = change_round(factory, numbers)
                rate[log_on] = per_round / wall, per_round / cpu
            grown, expected = log_size(factory) - before, per_round if log_on else 0
            if grown != expected:
                raise SystemExit(f"a log-{'on' if log_on else 'off'} round grew the log by {grown} leaves, "
                                 f"not {expected}: registry.audit no longer appends through "
                                 f"translog.{APPEND_HOOK}; update this benchmark")
        (on, on_cpu), (off, off_cpu) = rate[True], rate[False]
        results.append(Round("on, off" if on_first else "off, on", on, off, on_cpu, off_cpu))
    return AppendResults(results, append_us, log_size(factory))


# --- report ---------------------------------------------------------------------------------------


def print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                        for i, (cell, width) in enumerate(zip(row, widths, strict=True))))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def report_appends(result: AppendResults, changes_per_round: int) -> None:
    print(f"\n(1) appends: {len(result.rounds)} rounds each way, {changes_per_round} certificate status "
          f"changes per round, one committed transaction each; log size at the end {result.log_size:,}")
    print(f"    log off = registry.translog.{APPEND_HOOK} (what registry.audit.record calls; translog.append "
          "wraps it) patched to a no-op in this process for that round, then restored; audit events are "
          "written either way")
    rows = [("round", "order", "log on /s", "log off /s", "on/off", "on/off CPU")]
    rows += [(str(k + 1), r.order, f"{r.on:,.0f}", f"{r.off:,.0f}", f"{r.on / r.off:.3f}",
              f"{r.on_cpu / r.off_cpu:.3f}") for k, r in enumerate(result.rounds)]  # fmt: skip
    ratios = [r.on / r.off for r in result.rounds]
    cpu_ratios = [r.on_cpu / r.off_cpu for r in result.rounds]
    on_median = statistics.median(r.on for r in result.rounds)
    off_median = statistics.median(r.off for r in result.rounds)
    rows.append(("median", "", f"{on_median:,.0f}", f"{off_median:,.0f}", f"{statistics.median(ratios):.3f}",
                 f"{statistics.median(cpu_ratios):.3f}"))
    print_table(rows)
    print("    on/off CPU: the same ratio of changes per CPU second of this process, robust to other load "
          "(on SQLite that is all the work; on PostgreSQL only the client's side)")
    us, mean_us = result.append_us, statistics.mean(result.append_us)
    share = mean_us / (1e6 / on_median) * 100
    print(f"translog.{APPEND_HOOK} alone (one event a call), {len(us):,} calls in the log-on rounds: "
          f"mean {mean_us:.0f} µs, "
          f"p50 {percentile(us, 50):.0f} µs, p95 {percentile(us, 95):.0f} µs, "
          f"p99 {percentile(us, 99):.0f} µs ({share:.1f} % of a log-on change at the median rate)")
    verdict = "MET" if statistics.median(ratios) >= TARGET_RATIO else "NOT MET"
    print(f"target: log-on changes/s >= {TARGET_RATIO} x log-off (median ratio): "
          f"{statistics.median(ratios):.3f} {verdict}")


def report_proofs(rows: list[ProofTimes], leaves: int, build: str, head_problem: str) -> bool:
    """Print the proof table; returns False when a proof or the head was wrong."""
    print(f"\n(2) proofs at {leaves:,} leaves ({build}); sizes drawn from the last {SIZE_SPREAD:.0%} "
          f"of the log, each call in a fresh transaction")
    baseline = rows[0]
    base50 = percentile(baseline.latencies_ms, 50)
    table = [("call", "n", "p50 ms", "p95 ms", "p99 ms", "p50/base", "checked", f"p95<{TARGET_P95_MS:g}")]
    for r in rows:
        p50, p95, p99 = (percentile(r.latencies_ms, p) for p in (50, 95, 99))
        verdict = "-" if r is baseline else ("MET" if p95 < TARGET_P95_MS else "NOT MET")
        checked = "-" if r is baseline else f"{r.checked}/{len(r.latencies_ms)}"
        table.append((r.label, str(len(r.latencies_ms)), f"{p50:.2f}", f"{p95:.2f}", f"{p99:.2f}",
                      f"{p50 / base50:.1f}x", checked, verdict))
    print_table(table)
    ok = not head_problem and not any(r.wrong for r in rows)
    print("checked: every proof verified with verify.merkle against roots computed in memory; the stored "
          "head's root equals the RFC 9162 recursion over all leaf hashes" if ok else "PROOFS WRONG:")
    for problem in ([head_problem] if head_problem else []) + [w for r in rows for w in r.wrong[:5]]:
        print(f"  {problem}")
    return ok


def run_backend(backend: str, url: str, args: argparse.Namespace) -> bool:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n== {backend}: load average {load} on {os.cpu_count()} CPUs ==")
    engine = make_engine(url)
    factory = make_session_factory(engine)
    ok = True
    try:
        migrate.upgrade(engine)
        if args.parts in ("both", "proofs"):
            started = time.perf_counter()
            memory, frontier, hashing, storing = build_log(engine, args.leaves)
            build = (f"built in {time.perf_counter() - started:.0f} s: {hashing:.0f} s hashing in Python, "
                     f"{storing:.0f} s inserting {sum(len(level) for level in memory.levels):,} node rows "
                     f"and analyzing")
            rows = proof_benchmark(factory, memory, args.proofs, args.seed, args.row_seconds)
            ok = report_proofs(rows, args.leaves, build, check_head(factory, memory, frontier))
            del memory
        if args.parts in ("both", "appends"):
            result = append_benchmark(factory, args.rounds, args.changes)
            report_appends(result, 2 * max(1, args.changes // 2))
    finally:
        engine.dispose()
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--rounds", type=int, default=5, help="log-on and log-off rounds, each")
    parser.add_argument("--changes", type=int, default=400, help="changes per round (rounded to even)")
    parser.add_argument("--leaves", type=int, default=1_000_000, help="size of the log built for (2)")
    parser.add_argument("--proofs", type=int, default=1000, help="timed proofs of each kind")
    parser.add_argument("--row-seconds", type=float, default=120.0,
                        help=f"time budget per proof row: stop after this long (with at least {MIN_CALLS})")
    parser.add_argument("--parts", choices=["both", "appends", "proofs"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file under /tmp")
    args = parser.parse_args()
    if args.leaves < 2 or args.rounds < 1 or args.proofs < 2:
        parser.error("need --leaves >= 2, --rounds >= 1 and --proofs >= 2")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"translog_bench: load average {load} on {os.cpu_count()} CPUs; --leaves {args.leaves:,}, "
          f"--proofs {args.proofs}, --rounds {args.rounds}, --changes {args.changes}")
    started = time.perf_counter()
    ok = True
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        database = (
            sqlite_database("translog-bench", args.keep)
            if backend == "sqlite"
            else postgres_database(args.pg_url, "bench_translog")
        )
        with database as url:
            ok = run_backend(backend, url, args) and ok
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")
    if not ok:
        sys.exit(1)  # a wrong proof is a broken log, not a slow one


if __name__ == "__main__":
    main()
