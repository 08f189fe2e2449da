"""HTTP verification benchmark: the seal page and the verify API under gunicorn, against a trivial endpoint.

    .venv/bin/python bench/verify_http_bench.py [--backend sqlite|postgresql|both] [--certificates 1000]
                                                [--requests 2000] [--rounds 5] [--clients 2] [--threads 4]
                                                [--workers 2] [--client python|wrk] [--pg-url URL]

For each backend the script

1. creates a private database (a SQLite file under /tmp, or a private PostgreSQL database next to
   --pg-url, dropped at the end), migrates it and seeds it through the real services: certification
   bodies authorized for every category, a testing lab, a seal key, --certificates certificates
   (about 4 % suspended, 1 % withdrawn) each with its seal;
2. starts ``gunicorn wsgi:app`` with --workers sync workers on 127.0.0.1 and a free port, rate
   limiting off (RATELIMIT_ENABLED=0), access log off;
3. measures, in the same run and interleaved round by round so that a busy machine hurts all rows
   alike: GET /api/v1/ping (the trivial JSON endpoint: the cost of gunicorn + Flask alone),
   GET /V/<TOKEN> (the page a phone opens) and POST /api/v1/verify {"token"} (the API), each
   request naming another seal, cycling through the --certificates seals (so each is scanned
   again, as the QR printed on every box of a product is, and the server's keys remember having
   verified it: verify.verified_seals.VerifiedSeals); and the page and the API with new seals,
   where no seal is sent twice in the run (signed for the bench: ``fresh_tokens``), so every
   request checks a signature (with the python client only: wrk cycles through a row's list). The client sends
   exactly --requests requests per row and round from --clients processes x --threads threads
   (a new connection per request, as gunicorn's sync workers close them), or runs ``wrk`` for a
   fixed time with --client wrk;
4. prints per row the medians over the rounds of requests/s, p50 and p99, and the median of each
   round's ratio of the row's requests/s to the trivial endpoint's in that round (targets: 0.6 on
   SQLite, 0.5 on PostgreSQL). Requests counts are totals over the rounds. Then, per row, the CPU
   milliseconds one request cost (from /proc): gunicorn's processes, the database server's, the
   whole machine's (the rest is the client and the kernel), and the machine's as a multiple of
   the trivial endpoint's: with both cores busy, the requests/s ratio is about its inverse.

The client shares the machine with the server: on a two-core machine it takes CPU the workers
would otherwise use, for the trivial endpoint and the verification rows alike.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages live in the repo root

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

from bench.databases import DEFAULT_PG_URL, credit_code, postgres_database, sqlite_database  # noqa: E402
from bench.http_load import HOST, Measure, Row, get, measure_python, measure_wrk, with_cpu  # noqa: E402
from registry import keystore, migrate  # noqa: E402
from registry.authorizations import AuthorizationInput, grant_authorization  # noqa: E402
from registry.bodies import BodyInput, create_body  # noqa: E402
from registry.certificates import (  # noqa: E402
    CertificateInput,
    PartyInput,
    TestReportInput,
    change_certificate_status,
    register_bulk,
)
from registry.db import make_engine, make_session_factory  # noqa: E402
from registry.models import Category, Certificate  # noqa: E402
from registry.seals import certificate_claims, issue_seal  # noqa: E402
from verify import seal as vseal  # noqa: E402
from verify.keys import KeyRing  # noqa: E402

TARGETS = {"sqlite": 0.6, "postgresql": 0.5}
ACTOR = "bench"


def seed(url: str, count: int, passphrase: bytes) -> list[str]:
    """Bodies, a lab, a seal key and ``count`` sealed certificates; returns the seal tokens."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    session = make_session_factory(engine)()
    now = dt.datetime.now(dt.UTC)
    categories = list(session.scalars(select(Category.code)))
    bodies = [f"CNCA-R-2020-{n:03d}" for n in range(1, 21)]
    for n, code in enumerate([*bodies, "LAB-BENCH"]):
        kind = "testing_lab" if code == "LAB-BENCH" else "certification_body"
        create_body(
            session,
            BodyInput(
                code=code,
                kind=kind,
                name_zh=f"基准认证中心{n}",
                name_en=f"Bench Centre {n}",
                credit_code=credit_code(10_000 + n),
                province="31",
            ),
            actor=ACTOR,
            now=now,
        )
        for category in categories:
            grant_authorization(
                session,
                code,
                AuthorizationInput(
                    jurisdiction="CN",
                    scheme="CCC",
                    category=category,
                    valid_from=dt.date(2020, 1, 1),
                    valid_until=dt.date(2035, 1, 1),
                    standards="",
                ),
                actor=ACTOR,
                now=now,
                reason="bench",
            )
    # A day old: the seals new to the server (fresh_tokens) are dated in the hour before now.
    keystore.generate_key(session, "seal", passphrase, actor=ACTOR, now=now - dt.timedelta(days=1))
    per_body: dict[str, list[CertificateInput]] = {code: [] for code in bodies}
    for i in range(count):
        issue = dt.date(2025, 1, 1) + dt.timedelta(days=i % 300)
        per_body[bodies[i % len(bodies)]].append(
            CertificateInput(
                number=f"BENCH{i:07d}",
                holder=PartyInput(f"持证企业{i % 200}", credit_code=credit_code(i % 200)),
                manufacturer=PartyInput(f"制造企业{i % 150}", credit_code=credit_code(500 + i % 150)),
                category=categories[i % len(categories)],
                jurisdiction="CN",
                scheme="CCC",
                product_name=f"Product {i}",
                issue_date=issue,
                expiry_date=issue + dt.timedelta(days=3 * 365),
                test_reports=[TestReportInput("LAB-BENCH", f"R{i:07d}", issue - dt.timedelta(days=10))],
            )
        )
    tokens: list[str] = []
    for code, items in per_body.items():
        for certificate in register_bulk(session, code, items, actor=ACTOR, now=now):
            tokens.append(issue_seal(session, certificate, now=now, passphrase=passphrase).token)
    for i in range(len(tokens)):  # a few suspended and withdrawn: not every verdict is VALID
        if i % 25 == 3 or i % 100 == 7:
            number = f"BENCH{i:07d}"
            status = "withdrawn" if i % 100 == 7 else "suspended"
            change_certificate_status(
                session, bodies[i % len(bodies)], number, status, reason="bench", actor=ACTOR, now=now
            )
    session.commit()
    session.close()
    engine.dispose()
    return tokens


def fresh_tokens(url: str, passphrase: bytes, count: int, before: dt.datetime) -> list[str]:
    """``count`` seals of the seeded certificates, each signed with the registry's key as
    ``issue_seal`` would, with the same claims but dated a second apart in the seconds before
    ``before`` (when the seeding began: its own seals are dated after, so none is the same), so
    each is new to the server: a server that remembers the seals it verified has none of these.
    Not stored: verification does not look seals up, and storing 10,000s would slow the seeding."""
    engine = make_engine(url)
    session = make_session_factory(engine)()
    try:
        certificates = list(
            session.scalars(
                select(Certificate)
                .options(selectinload(Certificate.body), selectinload(Certificate.holder))
                .order_by(Certificate.id)
            )
        )
        ring = KeyRing([keystore.active_entry(session, "seal", passphrase)])
        base = before.replace(microsecond=0)
        claims = [certificate_claims(certificate, base) for certificate in certificates]
        tokens = []
        for n in range(count):
            when = base - dt.timedelta(seconds=1 + n // len(claims))
            sealed = vseal.sign_seal(replace(claims[n % len(claims)], issued_at=when), ring)
            tokens.append(vseal.token_from_bytes(sealed))
        return tokens
    finally:
        session.close()
        engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(url: str, workers: int, passphrase: bytes) -> Iterator[tuple[int, int]]:
    """A gunicorn serving the app on a free port: yields (port, master pid)."""
    port = free_port()
    instance = Path(tempfile.mkdtemp(prefix="verify-http-instance-", dir="/tmp"))
    env = os.environ | {
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "INSTANCE_DIR": str(instance),
        "SEAL_KEY_PASSPHRASE": passphrase.decode(),
        "PUBLIC_HOST": f"{HOST}:{port}",
        "RATELIMIT_ENABLED": "0",
    }
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "wsgi:app",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(port, "/api/v1/ping")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(instance, ignore_errors=True)


def rows(tokens: list[str], fresh: list[str]) -> list[Row]:
    """The rows of a run: ``fresh`` is split between the two rows of new seals, so no seal is
    sent twice in the run, by either."""
    half = len(fresh) // 2
    page_fresh, api_fresh = fresh[:half], fresh[half:]
    return [
        Row("GET /api/v1/ping (baseline)", "GET", ["/api/v1/ping"], None),
        Row("GET /V/<TOKEN> (page)", "GET", [f"/V/{t}" for t in tokens], None),
        Row("GET /V/<TOKEN> (new seals)", "GET", [f"/V/{t}" for t in page_fresh], None, onward=True),
        Row(
            "POST /api/v1/verify",
            "POST",
            ["/api/v1/verify"] * len(tokens),
            [json.dumps({"token": t}).encode() for t in tokens],
        ),
        Row(
            "POST /api/v1/verify (new seals)",
            "POST",
            ["/api/v1/verify"] * len(api_fresh),
            [json.dumps({"token": t}).encode() for t in api_fresh],
            onward=True,
        ),
    ]


def run_backend(backend: str, url: str, args: argparse.Namespace) -> None:
    passphrase = secrets.token_urlsafe(32).encode()
    started, before = time.perf_counter(), dt.datetime.now(dt.UTC)
    tokens = seed(url, args.certificates, passphrase)
    seeded = time.perf_counter() - started
    warm_up = min(400, args.requests)
    # One seal to check the page with, then two rows' worth (rows() splits them).
    fresh = fresh_tokens(url, passphrase, 1 + 2 * (warm_up + args.rounds * args.requests), before)
    assert len(set(fresh)) == len(fresh) and set(fresh).isdisjoint(tokens), "a new seal is not new"
    print(
        f"\n== {backend}: {len(tokens)} sealed certificates seeded in {seeded:.1f} s, {len(fresh)} new seals"
        f" signed in {time.perf_counter() - started - seeded:.1f} s; "
        f"gunicorn {args.workers} sync workers; client {args.client}"
        + (
            f" ({args.clients} processes x {args.threads} threads, {args.requests} requests a row and round)"
            if args.client == "python"
            else f" ({args.seconds} s per row and round)"
        )
    )
    rounds: list[dict[str, Measure]] = []
    with gunicorn(url, args.workers, passphrase) as (port, server_pid), multiprocessing.Pool(
        args.clients
    ) as pool:
        status, body = get(port, f"/V/{tokens[0]}")
        assert status == 200 and b'data-verdict="VALID"' in body, body[:300]
        answer = json.loads(get(port, "/api/v1/verify", json.dumps({"token": tokens[0]}).encode())[1])
        assert answer["verdict"] == "VALID", answer
        status, body = get(port, f"/V/{fresh[0]}")  # a seal as issue_seal makes them
        assert status == 200 and b'data-verdict="VALID"' in body, body[:300]
        bench_rows = rows(tokens, fresh[1:])
        if args.client == "wrk":  # wrk cycles through a row's list: its seals would come back
            bench_rows = [row for row in bench_rows if not row.onward]
        for row in bench_rows:  # warm-up: imports, connection pools, template and ring caches
            measure_python(pool, port, row, warm_up, args.clients, args.threads)
        for number in range(args.rounds):
            measured = {}
            for row in bench_rows:
                start = warm_up + number * args.requests if row.onward else 0
                if args.client == "wrk":
                    run = lambda row=row: measure_wrk(  # noqa: E731
                        port, row, args.seconds, args.clients * args.threads, tokens
                    )
                else:
                    run = lambda row=row, start=start: measure_python(  # noqa: E731
                        pool, port, row, args.requests, args.clients, args.threads, start
                    )
                measured[row.name] = with_cpu(run, server_pid)
            rounds.append(measured)
    report(backend, bench_rows, rounds)


def report(backend: str, bench_rows: list[Row], rounds: list[dict[str, Measure]]) -> None:
    """Medians over the rounds; each round's ratio uses the baseline measured in that round, so a
    neighbour's burst of load in one round moves one ratio, not the result."""
    baseline = bench_rows[0].name
    target = TARGETS[backend]
    print(f"{'row':32} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}  target")
    for row in bench_rows:
        runs = [r[row.name] for r in rounds]
        ratio = statistics.median(r[row.name].rps / r[baseline].rps for r in rounds)
        rps = statistics.median(m.rps for m in runs)
        p50 = statistics.median(m.p50_ms for m in runs)
        p99 = statistics.median(m.p99_ms for m in runs)
        verdict = "" if row.name == baseline else f">= {target}  {'met' if ratio >= target else 'MISSED'}"
        errors = sum(m.errors for m in runs)
        print(
            f"{row.name:32} {sum(m.n for m in runs):>9} {rps:>9.0f} {p50:>8.2f} {p99:>8.2f} {ratio:>6.2f}"
            f"  {verdict}{f'  ({errors} non-200)' if errors else ''}"
        )
    for row in bench_rows[1:]:
        spread = [round(r[row.name].rps / r[baseline].rps, 2) for r in rounds]
        print(f"{row.name} ratio per round: {spread}")
    # Where the machine's CPU goes per request (medians over the rounds): the ratio above is
    # about the inverse of the machine column's ratio, since the run keeps both cores busy.
    print(f"\nCPU ms per request: {'row':32} {'gunicorn':>9} {'database':>9} {'machine':>8}  x ping")
    for row in bench_rows:
        runs = [r[row.name] for r in rounds]
        server, database, machine = (statistics.median(m.cpu_ms[i] for m in runs) for i in range(3))
        times = statistics.median(
            r[row.name].cpu_ms[2] / r[baseline].cpu_ms[2] for r in rounds if r[baseline].cpu_ms[2]
        ) if any(r[baseline].cpu_ms[2] for r in rounds) else float("nan")
        print(f"{'':20}{row.name:32} {server:>9.3f} {database:>9.3f} {machine:>8.3f}  {times:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--certificates", type=int, default=1000)
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests per row and round (python client)"
    )
    parser.add_argument("--seconds", type=int, default=8, help="seconds per row and round (wrk client)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per client process")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--client", choices=["python", "wrk"], default="python")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    args = parser.parse_args()
    if args.client == "wrk" and shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk); use --client python")
    load = os.getloadavg()
    print(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        database = sqlite_database() if backend == "sqlite" else postgres_database(args.pg_url)
        with database as url:
            run_backend(backend, url, args)


if __name__ == "__main__":
    main()
