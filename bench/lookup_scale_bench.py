"""The seal lookup at the benchmark's size and at a production size, on PostgreSQL.

    .venv/bin/python bench/lookup_scale_bench.py [--copies 1000] [--bodies 10000] [--runs 2000]
                                                 [--pg-url URL]

Every scan runs one prepared statement (``registry.seal_lookup``), and PostgreSQL runs a prepared
statement on a generic plan chosen by the tables' statistics: a plan that reads a body's whole
certificate list, or every body's segments of a category, is cheap on the HTTP benchmark's
1,000 certificates and slow on a registry of millions. So this script

1. seeds a private database as ``verify_http_bench.py`` does (21 bodies, 1,000 certificates),
   ANALYZEs it, times the statement through psycopg (prepared, as the pinned connection runs it)
   and prints its generic plan with EXPLAIN ANALYZE: the baseline;
2. grows the same database in SQL to a production size: --bodies more bodies, each with a
   timeline segment per category, and --copies copies of every certificate (1,001,000 with the
   defaults), ANALYZEs it, and measures again.

It prints both medians and p99s, their ratio (target: at most 1.5, i.e. the lookup does not
grow with the registry), and both plans.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages live in the repo root

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from bench.databases import DEFAULT_PG_URL, postgres_database  # noqa: E402
from bench.verify_http_bench import seed  # noqa: E402
from registry import seal_lookup  # noqa: E402
from registry.db import make_engine  # noqa: E402

TARGET_RATIO = 1.5


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def measure(url: str, statement: str, params: dict[str, Any], runs: int) -> tuple[float, float]:
    """Median and p99 in µs of the lookup, prepared, on a connection of its own."""
    with psycopg.connect(_libpq_url(url), autocommit=True) as connection:
        cursor = connection.cursor()
        for _ in range(50):  # past psycopg's prepare threshold and the server's plan choice
            cursor.execute(statement, params, prepare=True)
            cursor.fetchall()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            cursor.execute(statement, params, prepare=True)
            cursor.fetchall()
            times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1e6, times[int(len(times) * 0.99)] * 1e6


def generic_plan(url: str, statement: str, params: dict[str, Any]) -> list[str]:
    """EXPLAIN ANALYZE of the statement's generic plan (the one a prepared statement keeps)."""
    names: list[str] = []  # each %(name)s becomes $n, numbered as it first appears

    def placeholder(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    prepared = re.sub(r"%\((\w+)\)s", placeholder, statement)
    arguments = sql.SQL(", ").join(sql.Literal(params[name]) for name in names)
    with psycopg.connect(_libpq_url(url), autocommit=True) as connection:
        connection.execute("SET plan_cache_mode = force_generic_plan")
        connection.execute(sql.SQL("PREPARE lookup AS {}").format(sql.SQL(prepared)))  # type: ignore[arg-type]
        rows = connection.execute(
            sql.SQL("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE lookup ({})").format(arguments)
        ).fetchall()
    return [row[0] for row in rows]


def grow(url: str, copies: int, bodies: int) -> str:
    """Bodies with a segment per category and copies of every certificate, in SQL."""
    started = time.perf_counter()
    with psycopg.connect(_libpq_url(url), autocommit=True) as connection:
        cursor = connection.cursor()
        authorization_id = cursor.execute('SELECT min(id) FROM "authorization"').fetchone()[0]  # type: ignore[index]
        categories = [row[0] for row in cursor.execute(
            "SELECT DISTINCT category FROM authorization_timeline"
        )]
        cursor.execute(
            "INSERT INTO organization (name_zh, name_en, country, address, website)"
            " SELECT '扩展机构' || g, 'Scale Org ' || g, 'CN', '', '' FROM generate_series(1, %s) g",
            (bodies,),
        )
        cursor.execute(
            "INSERT INTO body (code, kind, organization_id, contact_name, contact_email, contact_phone,"
            " created_at, updated_at, version, search_text, list_key)"
            " SELECT 'SCALE-' || o.id, 'certification_body', o.id, '', '', '', now(), now(), 1,"
            " 'scale ' || o.id, 'SCALE-' || o.id FROM organization o WHERE o.name_en LIKE 'Scale Org %%'"
        )
        # The segments' line is not theirs (one authorization serves them all): only the
        # timeline's size and spread matter to the plan.
        cursor.execute(
            "INSERT INTO authorization_timeline (authorization_id, body_id, category, jurisdiction,"
            " status, starts, ends) SELECT %s, b.id, c, 'CN', 'active', date '2020-01-01',"
            " date '2035-01-01' FROM body b CROSS JOIN unnest(%s::text[]) c WHERE b.code LIKE 'SCALE-%%'",
            (authorization_id, categories),
        )
        cursor.execute(
            "INSERT INTO certificate (body_id, number, holder_id, manufacturer_id, category, jurisdiction,"
            " scheme, product_name, models, standards, issue_date, expiry_date, status, created_at,"
            " updated_at, version) SELECT c.body_id, c.number || '-' || g, c.holder_id,"
            " c.manufacturer_id, c.category, c.jurisdiction, c.scheme, c.product_name, c.models,"
            " c.standards, c.issue_date, c.expiry_date, c.status, now(), now(), 1"
            " FROM certificate c CROSS JOIN generate_series(1, %s) g",
            (copies,),
        )
        cursor.execute("ANALYZE")
        counts = cursor.execute(
            "SELECT (SELECT count(*) FROM certificate), (SELECT count(*) FROM body),"
            " (SELECT count(*) FROM authorization_timeline)"
        ).fetchone()
    assert counts is not None
    return (
        f"{counts[0]:,} certificates, {counts[1]:,} bodies, {counts[2]:,} timeline segments"
        f" (grown in {time.perf_counter() - started:.0f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--copies", type=int, default=1000, help="copies of each seeded certificate")
    parser.add_argument("--bodies", type=int, default=10_000, help="bodies added, each with its segments")
    parser.add_argument("--runs", type=int, default=2000, help="timed lookups per size")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    args = parser.parse_args()
    with postgres_database(args.pg_url) as url:
        seed(url, 1000, b"lookup-scale-bench-passphrase-0123")
        engine = make_engine(url)
        statement = seal_lookup._ONE_CERTIFICATE_READ._plan(engine.dialect).sql
        engine.dispose()
        with psycopg.connect(_libpq_url(url), autocommit=True) as connection:
            connection.execute("ANALYZE")
            found = connection.execute(
                "SELECT b.code, c.number, c.category, c.jurisdiction FROM certificate c"
                " JOIN body b ON b.id = c.body_id ORDER BY c.id LIMIT 1"
            ).fetchone()
        assert found is not None
        code, number, category, jurisdiction = found
        params = {
            "id_1": 1, "code": code, "number": number, "category": category, "jurisdiction": jurisdiction
        }

        def both(label: str) -> tuple[str, tuple[float, float], list[str]]:
            return label, measure(url, statement, params, args.runs), generic_plan(url, statement, params)

        results = [both("the HTTP benchmark's size: 1,000 certificates, 21 bodies")]
        results.append(both("production size: " + grow(url, args.copies, args.bodies)))
    for label, (median, p99), plan in results:
        print(f"\n== {label}\nlookup through psycopg, prepared: median {median:.0f} µs, p99 {p99:.0f} µs")
        print("generic plan:\n" + "\n".join("    " + line for line in plan))
    ratio = results[1][1][0] / results[0][1][0]
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(
        f"\nmedian at production size / at the benchmark's size: {ratio:.2f}"
        f" (target <= {TARGET_RATIO}: {verdict})"
    )


if __name__ == "__main__":
    main()
