"""Registry benchmark: latency of the public list, search and as-of queries on a large registry.

    .venv/bin/python bench/registry_bench.py [--bodies 10000] [--lines 100000] [--requests 200]
                                             [--backend sqlite|postgresql|both] [--explain]

Builds a fresh database per backend (a SQLite file under /tmp; a private PostgreSQL database
``bench_<pid>`` next to --pg-url, dropped at the end), migrates it, bulk-loads benchmark data
(bench_data.py) and times requests through the real Flask app and its test client. Each figure
is compared with a baseline measured in the same run: a static file through the same client,
which is the cost of the Flask/Werkzeug stack with no database work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages live in the repo root

from flask import Flask  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from app import create_app  # noqa: E402
from bench.bench_data import MAINLAND, BenchData, bulk_insert, generate  # noqa: E402
from bench.databases import postgres_database, sqlite_database  # noqa: E402
from registry import migrate  # noqa: E402
from registry.db import make_engine  # noqa: E402
from registry.queries import BodyFilter, body_ids_query  # noqa: E402
from registry.reference import category_rows  # noqa: E402

TARGET_P95_MS = 50.0
WARMUP = 3
DEFAULT_PG_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
CN_TZ = dt.timezone(dt.timedelta(hours=8))  # the app's reference calendar (app.clock.today)
CATEGORIES = [r["category"] for r in category_rows()]
STATUSES = ["active", "suspended", "withdrawn", "expired"]
LIST_KINDS = ("certification_body", "inspection_body")  # what /bodies lists


@dataclass
class Scenario:
    label: str
    path: str
    params: Callable[[random.Random], dict[str, str]]


def scenarios(data: BenchData, today: dt.date, prefix: str) -> list[Scenario]:
    def filters(rng: random.Random) -> dict[str, str]:
        return {"category": rng.choice(CATEGORIES), "jurisdiction": rng.choice(["CN", "EU", "US", "UK"]),
                "province": rng.choice(MAINLAND), "status": rng.choice(STATUSES)}

    def search(rng: random.Random) -> dict[str, str]:
        return {"q": rng.choice(data.search_terms)}

    def as_of(rng: random.Random) -> dict[str, str]:
        day = dt.date(2020, 3, 1) + dt.timedelta(days=rng.randint(0, (today - dt.date(2020, 3, 1)).days))
        return {"as_of": day.isoformat(), "status": "active"}

    kind = "api" if prefix.startswith("/api") else "html"
    return [
        Scenario(f"{kind} {prefix} category+jurisdiction+province+status", prefix, filters),
        Scenario(f"{kind} {prefix}?q=<name or identifier>", prefix, search),
        Scenario(f"{kind} {prefix}?as_of=<past date>&status=active", prefix, as_of),
    ]


class QueryTimer:
    """Sums the time spent in the database driver, per request."""

    def __init__(self, engine: Engine) -> None:
        self.seconds = 0.0
        self.queries = 0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, *_: Any) -> None:
        self.seconds += time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        self.queries += 1

    def reset(self) -> None:
        self.seconds, self.queries = 0.0, 0


@dataclass
class Result:
    label: str
    latencies_ms: list[float]
    db_ms: list[float]
    queries: float
    failures: list[str]

    def p(self, values: list[float], pct: int) -> float:
        if len(values) < 2:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def measure(client: Any, timer: QueryTimer, label: str, urls: list[str], budget_s: float) -> Result:
    """Time GET ``urls`` in turn; stop early (after at least 20) once ``budget_s`` seconds are spent."""
    for url in urls[:WARMUP]:  # fill caches and connection pool; not timed
        client.get(url).close()
    latencies: list[float] = []
    db_times: list[float] = []
    failures: list[str] = []
    queries = 0
    deadline = time.perf_counter() + budget_s
    for url in urls:
        if len(latencies) >= 20 and time.perf_counter() > deadline:
            break
        timer.reset()
        started = time.perf_counter()
        response = client.get(url)
        latencies.append((time.perf_counter() - started) * 1000)
        db_times.append(timer.seconds * 1000)
        queries += timer.queries
        response.close()
        if response.status_code != 200:
            failures.append(f"{response.status_code} {url}")
    return Result(label, latencies, db_times, queries / len(latencies), failures)


def make_app(url: str) -> Flask:
    return create_app({"DATABASE_URL": url, "SECRET_KEY": os.urandom(24).hex(), "RATELIMIT_ENABLED": False})


def run_backend(backend: str, url: str, args: argparse.Namespace) -> None:
    today = dt.datetime.now(CN_TZ).date()
    engine = make_engine(url)
    started = time.perf_counter()
    migrate.upgrade(engine)
    rows, data = generate(random.Random(args.seed), args.bodies, args.lines, today, dt.datetime.now(dt.UTC))
    bulk_insert(engine, rows, analyze=True)  # as production does after migrations, demo data and imports
    built = time.perf_counter() - started
    engine.dispose()

    app = make_app(url)
    client = app.test_client()
    timer = QueryTimer(app.extensions["db_session_factory"].kw["bind"])
    rng = random.Random(args.seed + 1)
    budget = args.row_seconds
    static = ["/static/style.css"] * args.requests
    baseline = measure(client, timer, "baseline GET /static/style.css", static, budget)
    results, notes = [baseline], []
    prefixes = ["/bodies"]
    probe = client.get("/api/v1/bodies")
    if probe.status_code == 404:
        notes.append("API rows skipped: GET /api/v1/bodies answered 404 (route not there yet)")
    else:
        prefixes.append("/api/v1/bodies")
    for prefix in prefixes:
        for scenario in scenarios(data, today, prefix):
            urls = [f"{scenario.path}?{urlencode(scenario.params(rng))}" for _ in range(args.requests)]
            results.append(measure(client, timer, scenario.label, urls, budget))

    statuses = ", ".join(f"{k} {v}" for k, v in data.statuses.items())
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n== {backend}: {data.bodies} bodies, {data.lines} scope lines ({statuses}), "
          f"{data.periods} status periods; built and migrated in {built:.1f} s; "
          f"load average {load} on {os.cpu_count()} CPUs ==")
    print(f"{'request':<62} {'n':>4} {'p50 ms':>7} {'p95 ms':>7} {'p50/base':>8} {'p95/base':>8} "
          f"{'db p95':>7} {'q/req':>5}  target p95<{TARGET_P95_MS:.0f}")
    base50, base95 = baseline.p(baseline.latencies_ms, 50), baseline.p(baseline.latencies_ms, 95)
    for r in results:
        p50, p95 = r.p(r.latencies_ms, 50), r.p(r.latencies_ms, 95)
        verdict = "-" if r is baseline else ("ok" if p95 < TARGET_P95_MS else "MISS")
        print(f"{r.label:<62} {len(r.latencies_ms):>4} {p50:>7.1f} {p95:>7.1f} {p50 / base50:>7.1f}x "
              f"{p95 / base95:>7.1f}x {r.p(r.db_ms, 95):>7.1f} {r.queries:>5.1f}  {verdict}")
        if r.failures:
            notes.append(f"{r.label}: {len(r.failures)} non-200 responses, e.g. {r.failures[0]}")
    for note in notes:
        print(f"note: {note}")
    if args.explain:
        explain(app.extensions["db_session_factory"].kw["bind"], today, data)
    app.extensions["db_session_factory"].kw["bind"].dispose()


def explain(engine: Engine, today: dt.date, data: BenchData) -> None:
    """Print the plans of the list queries (count and first page) for one example of each scenario."""
    examples = {
        "filters": BodyFilter(
            kinds=LIST_KINDS, category="mask", jurisdiction="CN", province="44", status="active"
        ),
        "search": BodyFilter(kinds=LIST_KINDS, text=data.search_terms[0]),
        "as_of": BodyFilter(kinds=LIST_KINDS, status="active", as_of=dt.date(2022, 6, 1)),
    }
    with engine.connect() as conn:
        for name, filters in examples.items():
            ids = body_ids_query(filters, filters.as_of or today)
            for part, query in (("ids", ids),):
                compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
                params: Any = compiled.params
                if conn.dialect.positional:
                    params = tuple(compiled.params[k] for k in compiled.positiontup or ())
                prefix = ("EXPLAIN (ANALYZE, BUFFERS) " if conn.dialect.name == "postgresql"
                          else "EXPLAIN QUERY PLAN ")
                plan = conn.exec_driver_sql(prefix + compiled.string, params).all()
                print(f"\n-- {conn.dialect.name} {name} ({part}) --")
                for row in plan:
                    print("  " + " | ".join(str(col) for col in row))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bodies", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per row (at least 2)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--row-seconds", type=float, default=12.0,
                        help="time budget per row: stop after this long (with at least 20 requests)")
    parser.add_argument("--explain", action="store_true", help="print the query plans after the table")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file under /tmp")
    args = parser.parse_args()
    args.requests = max(2, args.requests)
    started = time.perf_counter()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        database = (
            sqlite_database("registry-bench", args.keep)
            if backend == "sqlite"
            else postgres_database(args.pg_url)
        )
        with database as url:
            run_backend(backend, url, args)
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
