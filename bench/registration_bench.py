"""Bulk registration benchmark: 10,000 certificates registered and sealed in one request's work.

    .venv/bin/python bench/registration_bench.py [--backend sqlite|postgresql|both] [--count 10000]
                                                 [--rounds 3] [--pg-url URL]

For each backend, in a private database (a SQLite file under /tmp, or a throw-away PostgreSQL
database next to --pg-url), with a certification body and a lab authorized for masks and a seal
key, each round times, in one transaction each:

- the baseline: the same number of certificate rows inserted with one Core executemany (no
  checks, no organizations, no audit, no seals): the floor of writing the rows at all;
- ``register_bulk`` (every rule checked, organizations resolved, one audit event and one log
  leaf per certificate) followed by ``issue_seals`` (Ed25519 seal, audit event and log leaf each),
  which is what ``POST /api/v1/certificates`` with 10,000 items does.

It prints seconds and certificates/s per round and the median, and the ratio to the baseline.
There is no target in the issue beyond finishing well inside the web server's timeout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages live in the repo root

from sqlalchemy import insert, select  # noqa: E402

from bench.databases import DEFAULT_PG_URL, credit_code, postgres_database, sqlite_database  # noqa: E402
from registry import keystore, migrate  # noqa: E402
from registry.authorizations import AuthorizationInput, grant_authorization  # noqa: E402
from registry.bodies import BodyInput, create_body  # noqa: E402
from registry.certificates import CertificateInput, PartyInput, TestReportInput, register_bulk  # noqa: E402
from registry.db import make_engine, make_session_factory  # noqa: E402
from registry.models import Body, Certificate, Organization  # noqa: E402
from registry.seals import issue_seals  # noqa: E402

PASSPHRASE = b"bench-passphrase-0123456789abcdef"
ACTOR = "bench"


@contextmanager
def database(backend: str, pg_url: str) -> Iterator[str]:
    with sqlite_database() if backend == "sqlite" else postgres_database(pg_url) as url:
        yield url


def seed(url: str, now: dt.datetime) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    with make_session_factory(engine)() as session:
        for n, (code, kind) in enumerate((("CB-BENCH", "certification_body"), ("LAB-BENCH", "testing_lab"))):
            create_body(
                session,
                BodyInput(code=code, kind=kind, name_zh=f"基准机构{n}", name_en=f"Bench {n}",
                          credit_code=credit_code(900 + n), province="31"),
                actor=ACTOR, now=now,
            )  # fmt: skip
            grant_authorization(
                session, code,
                AuthorizationInput(jurisdiction="CN", scheme="CCC", category="mask",
                                   valid_from=dt.date(2020, 1, 1), valid_until=dt.date(2035, 1, 1),
                                   standards=""),
                actor=ACTOR, now=now, reason="bench",
            )  # fmt: skip
        keystore.generate_key(session, "seal", PASSPHRASE, actor=ACTOR, now=now)
        session.commit()
    engine.dispose()


def items(count: int, prefix: str) -> list[CertificateInput]:
    return [
        CertificateInput(
            number=f"{prefix}{i:06d}",
            holder=PartyInput(f"持证企业{i % 200}", credit_code=credit_code(i % 200)),
            manufacturer=PartyInput(f"制造企业{i % 150}", credit_code=credit_code(500 + i % 150)),
            category="mask", jurisdiction="CN", scheme="CCC", product_name=f"Product {i}",
            issue_date=dt.date(2025, 1, 1) + dt.timedelta(days=i % 300),
            expiry_date=dt.date(2028, 1, 1),
            test_reports=[TestReportInput("LAB-BENCH", f"R{i:07d}", dt.date(2024, 12, 1))],
        )
        for i in range(count)
    ]  # fmt: skip


def baseline(url: str, count: int, prefix: str, now: dt.datetime) -> float:
    """Plain rows: one executemany of ``count`` certificate rows (then rolled back)."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        body_id = session.scalar(select(Body.id).where(Body.code == "CB-BENCH"))
        org_id = session.scalar(select(Organization.id).limit(1))
        rows = [
            {"body_id": body_id, "number": f"{prefix}{i:06d}", "holder_id": org_id, "manufacturer_id": org_id,
             "category": "mask", "jurisdiction": "CN", "scheme": "CCC", "product_name": f"Product {i}",
             "models": "", "standards": "", "issue_date": dt.date(2025, 1, 1),
             "expiry_date": dt.date(2028, 1, 1),
             "status": "valid", "created_at": now, "updated_at": now, "version": 1}
            for i in range(count)
        ]  # fmt: skip
        started = time.perf_counter()
        session.execute(insert(Certificate), rows)
        session.flush()
        elapsed = time.perf_counter() - started
        session.rollback()
    engine.dispose()
    return elapsed


def registration(url: str, count: int, prefix: str, now: dt.datetime) -> float:
    """register_bulk + issue_seals of ``count`` certificates, committed."""
    engine = make_engine(url)
    batch = items(count, prefix)
    with make_session_factory(engine)() as session:
        started = time.perf_counter()
        certificates = register_bulk(session, "CB-BENCH", batch, actor=ACTOR, now=now)
        issue_seals(session, certificates, now=now, passphrase=PASSPHRASE)
        session.commit()
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def run(backend: str, args: argparse.Namespace) -> None:
    now = dt.datetime.now(dt.UTC)
    with database(backend, args.pg_url) as url:
        seed(url, now)
        print(f"\n== {backend}: {args.count:,} certificates per round, {args.rounds} rounds")
        print(
            f"{'round':<6} {'baseline s':>11} {'register+seal s':>16} {'certificates/s':>15} "
            f"{'x baseline':>11}"
        )
        base, full = [], []
        for round_no in range(1, args.rounds + 1):
            base.append(baseline(url, args.count, f"B{round_no}-", now))
            full.append(registration(url, args.count, f"R{round_no}-", now))
            print(f"{round_no:<6} {base[-1]:>11.2f} {full[-1]:>16.2f} {args.count / full[-1]:>15,.0f} "
                  f"{full[-1] / base[-1]:>11.1f}")  # fmt: skip
        b, f = statistics.median(base), statistics.median(full)
        print(f"{'median':<6} {b:>11.2f} {f:>16.2f} {args.count / f:>15,.0f} {f / b:>11.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs")
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run(backend, args)


if __name__ == "__main__":
    main()
