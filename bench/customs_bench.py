"""Bulk customs check benchmark: check_declarations against plain bulk verification, in process.

    .venv/bin/python bench/customs_bench.py [--backend sqlite|postgresql|both] [--declarations 10000]
                                            [--rounds 7] [--pg-url URL]

For each backend the script

1. creates a private database (a SQLite file under /tmp, or a private PostgreSQL database next to
   --pg-url, dropped at the end) and seeds it with ``bench/verify_http_bench.py``'s ``seed``:
   certification bodies authorized for every category, a lab, a seal key and --declarations
   sealed certificates (about 4 % suspended, 1 % withdrawn);
2. builds one declaration per seal from what the registry holds of its certificate, mixed as a
   customs office sees them: the holder as exporter (70 %), the manufacturer (10 %), an unrelated
   exporter (10 %), none (10 %); an HS code listed for the category, a neighbouring one or a
   foreign one; declaration dates spread over the certificate's life; quantities and ports;
3. times, in interleaved rounds (so a busy machine hurts both rows alike; the row that goes first
   alternates, and garbage is collected before each timing), after one untimed warm-up round:
   - ``verify_many`` over the same seals, 1,000 at a time (its batch limit): plain bulk
     verification, the baseline;
   - ``registry.customs.check_declarations`` over all (seal, declaration) items at once;
4. prints per row the best rows/s over the rounds (the run least disturbed by a shared machine,
   as ``bench/verify_bench.py`` reports), their ratio, customs rows/s to plain verification
   rows/s (target: at least 0.7), and each round's ratio with their median.

The verdicts are checked to be the same in both rows before anything is timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages live in the repo root

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session, aliased  # noqa: E402

from bench.databases import DEFAULT_PG_URL, credit_code, postgres_database, sqlite_database  # noqa: E402
from bench.verify_http_bench import seed  # noqa: E402
from registry.customs import check_declarations  # noqa: E402
from registry.db import make_engine, make_session_factory  # noqa: E402
from registry.models import Body, Category, Certificate, Organization  # noqa: E402
from registry.verification import MAX_BATCH, verify_many  # noqa: E402
from verify import cose  # noqa: E402
from verify.claims import decode_claims  # noqa: E402
from verify.declaration import Declaration  # noqa: E402
from verify.seal import token_to_bytes  # noqa: E402

TARGET = 0.7
PORTS = ("上海外高桥", "宁波北仑", "深圳盐田", "天津新港", "青岛前湾")
STRANGER = credit_code(99_999)


def _facts(session: Session) -> dict[tuple[str, str], tuple[str | None, str | None, str, dt.date, dt.date]]:
    """(body code, number) -> holder code, manufacturer code, category, issue date, expiry date."""
    holder, maker = aliased(Organization), aliased(Organization)
    rows = session.execute(
        select(Body.code, Certificate.number, holder.credit_code, maker.credit_code, Certificate.category,
               Certificate.issue_date, Certificate.expiry_date)
        .join(Body, Body.id == Certificate.body_id)
        .join(holder, holder.id == Certificate.holder_id)
        .join(maker, maker.id == Certificate.manufacturer_id)
    )
    return {(code, number): tuple(rest) for code, number, *rest in rows}  # type: ignore[misc]


def declarations(session: Session, tokens: list[str]) -> list[tuple[str, Declaration]]:
    """One declaration per seal, mixed as described in the module docstring."""
    facts = _facts(session)
    hs = {code: (listed, neighbours) for code, listed, neighbours in
          session.execute(select(Category.code, Category.hs6_codes, Category.hs6_neighbours))}
    items = []
    for n, token in enumerate(tokens):
        claims = decode_claims(cose.parse_sign1(token_to_bytes(token)).payload)  # our own seals
        holder, maker, category, issued, expires = facts[claims.certificate_key]
        exporter = (holder, holder, holder, holder, holder, holder, holder, maker, STRANGER, None)[n % 10]
        listed, neighbours = hs[category]
        choices = [code for code in listed.split(";") if code] or ["630790"]
        if n % 9 == 4 and neighbours:
            hs_code = neighbours.split(";")[0] + "10"
        elif n % 13 == 5:
            hs_code = "8504401400"  # transformers: not a product of any category
        else:
            hs_code = choices[n % len(choices)] + "0000"
        day = issued + dt.timedelta(days=(n * 37) % max(1, (expires - issued).days + 60))
        items.append(
            (
                f"HTTPS://VERIFY.EXAMPLE.CN/V/{token}",
                Declaration(
                    exporter_credit_code=exporter,
                    manufacturer_credit_code=maker if n % 4 == 0 else None,
                    hs_code=hs_code,
                    product_description=f"declared goods {n}",
                    quantity=100 + n % 5000,
                    port=PORTS[n % len(PORTS)],
                    declaration_date=day,
                ),
            )
        )
    return items


def timed(run: Callable[[], object]) -> float:
    """Seconds ``run`` takes, its garbage (and the other row's) collected first, not during."""
    gc.collect()
    started = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - started
    del result
    return elapsed


def run_backend(backend: str, url: str, args: argparse.Namespace) -> None:
    passphrase = secrets.token_urlsafe(32).encode()
    started = time.perf_counter()
    tokens = seed(url, args.declarations, passphrase)
    seeded = time.perf_counter() - started
    engine = make_engine(url)
    session = make_session_factory(engine)()
    items = declarations(session, tokens)
    texts = [scanned for scanned, _ in items]
    now = dt.datetime.now(dt.UTC)

    def plain() -> list[object]:
        found: list[object] = []
        for start in range(0, len(texts), MAX_BATCH):
            found.extend(verify_many(session, texts[start : start + MAX_BATCH], now=now))
            session.rollback()  # end the read transaction per batch, as a request would
        return found

    def customs() -> list[object]:
        found = check_declarations(session, items, now=now)
        session.rollback()
        return list(found)

    # Warm-up, and the same verdicts both ways.
    verdicts = [r.code for r in plain()]  # type: ignore[attr-defined]
    checked = customs()
    assert [r.verification.code for r in checked] == verdicts  # type: ignore[attr-defined]
    overall = Counter(str(r.overall) for r in checked)  # type: ignore[attr-defined]
    print(f"\n== {backend}: {len(tokens)} sealed certificates seeded in {seeded:.0f} s; "
          f"verdicts {dict(Counter(verdicts))}; declarations {dict(overall)}")
    rounds: list[tuple[float, float]] = []
    for number in range(args.rounds):
        if number % 2:  # alternate which row goes first: neither always gets the warmer caches
            customs_time = timed(customs)
            rounds.append((timed(plain), customs_time))
        else:
            rounds.append((timed(plain), timed(customs)))
    # Best of the rounds, as bench/verify_bench.py: on a shared machine the fastest run is the one
    # least disturbed; the per-round ratios and their median are printed too.
    plain_rate = len(items) / min(p for p, _ in rounds)
    customs_rate = len(items) / min(c for _, c in rounds)
    ratio = customs_rate / plain_rate
    print(f"{'row':44} {'rows':>6} {'rows/s':>8} {'ratio':>6}")
    print(f"{'verify_many, 1,000 a batch (baseline)':44} {len(items):>6} {plain_rate:>8.0f} {1:>6.2f}")
    print(f"{'check_declarations (seal + declaration)':44} {len(items):>6} {customs_rate:>8.0f} {ratio:>6.2f}"
          f"  target >= {TARGET}  {'met' if ratio >= TARGET else 'MISSED'}")
    per_round = [p / c for p, c in rounds]
    print(f"ratio per round: {[round(r, 2) for r in per_round]}, median {statistics.median(per_round):.2f}")
    session.close()
    engine.dispose()


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--declarations", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs")
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        database = sqlite_database() if backend == "sqlite" else postgres_database(args.pg_url)
        with database as url:
            run_backend(backend, url, args)


if __name__ == "__main__":
    main()
