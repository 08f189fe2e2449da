"""Benchmark data: many bodies and scope lines with a status history, bulk-inserted with Core.

This deliberately bypasses the services (no audit events, no per-row validation): it is
load for a benchmark, not registry content. Everything derives from one seeded RNG.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Engine

from registry.db import Base
from registry.identifiers import uscc_check_character
from registry.models import (
    Authorization,
    AuthorizationTimeline,
    Body,
    BodyIdentifier,
    BodyTimeline,
    Organization,
    StatusPeriod,
)
from registry.reference import category_rows, jurisdiction_rows, provinces
from registry.timeline import Period, Segment, body_rows, compute, list_key, timeline_rows

MAINLAND = [code for code in provinces() if int(code) < 70]
FOREIGN_COUNTRIES = ["DE", "FR", "IT", "GB", "US", "JP", "KR"]
# (character, pinyin) pairs; two of them make a plausible trade name.
_PAIRS = (
    "华:Hua 正:Zheng 源:Yuan 泰:Tai 和:He 博:Bo 恒:Heng 标:Biao 安:An 鉴:Jian 信:Xin 衡:Heng 明:Ming "
    "卓:Zhuo 国:Guo 准:Zhun 启:Qi 诚:Cheng 瑞:Rui 嘉:Jia 德:De 汇:Hui 宏:Hong 睿:Rui 鼎:Ding 联:Lian "
    "远:Yuan 盛:Sheng 同:Tong 蓝:Lan 清:Qing 天:Tian 众:Zhong 昊:Hao 金:Jin 立:Li 新:Xin 康:Kang 佳:Jia "
    "永:Yong 广:Guang 东:Dong 南:Nan 北:Bei 星:Xing 云:Yun 海:Hai 长:Chang 科:Ke"
)
SYLLABLES = [(pair[0], pair[2:]) for pair in _PAIRS.split(" ")]
SUFFIXES = {
    "certification_body": ("认证有限公司", "Certification Co., Ltd."),
    "testing_lab": ("检测技术有限公司", "Testing Technology Co., Ltd."),
    "inspection_body": ("检验有限公司", "Inspection Co., Ltd."),
}
CODE_PREFIXES = {"certification_body": "CB", "testing_lab": "LAB", "inspection_body": "IB"}
SCHEMES = {"CN": "CNCA designation", "EU": "Regulation (EU) 2016/425", "US": "42 CFR Part 84",
           "UK": "UKCA", "JP": "PMD Act", "KR": "MFDS", "AU": "TGA", "CA": "Health Canada"}
# Weights of jurisdictions for Chinese bodies: most scope lines are domestic.
DOMESTIC_WEIGHTS = {"CN": 12, "EU": 4, "US": 3, "UK": 2, "JP": 1, "KR": 1, "AU": 1, "CA": 1}


@dataclass
class BenchData:
    """What the benchmark needs to know about the generated data (to vary its requests)."""

    bodies: int = 0
    lines: int = 0
    periods: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    search_terms: list[str] = field(default_factory=list)


def _credit_code(body_id: int, province: str) -> str:
    first17 = f"91{province}0000{body_id:08d}0"
    return first17 + uscc_check_character(first17)


def _line_counts(rng: random.Random, bodies: int, lines: int) -> list[int]:
    """How many scope lines each body gets: ``lines`` in all, between 1 and 40 each."""
    counts = [1] * bodies
    for _ in range(lines - bodies):
        i = rng.randrange(bodies)
        while counts[i] >= 40:
            i = rng.randrange(bodies)
        counts[i] += 1
    return counts


def _pick_combos(rng: random.Random, count: int, weights: dict[str, int], categories: list[str]) -> list[
    tuple[str, str]
]:
    # Weighted sampling without replacement (Efraimidis-Spirakis keys).
    pool = [(j, c) for j in weights for c in categories]
    keyed = sorted(pool, key=lambda jc: rng.random() ** (1 / weights[jc[0]]), reverse=True)
    return keyed[:count]


def generate(rng: random.Random, n_bodies: int, n_lines: int, today: dt.date, now: dt.datetime) -> tuple[
    dict[str, list[dict[str, Any]]], BenchData
]:
    """Rows for every table, keyed by table name, with explicit primary keys."""
    categories = [r["category"] for r in category_rows()]
    jurisdictions = [r["code"] for r in jurisdiction_rows()]
    rows: dict[str, list[dict[str, Any]]] = {
        "organization": [], "body": [], "body_identifier": [], "authorization": [], "status_period": [],
        "authorization_timeline": [], "body_timeline": [],
    }
    info = BenchData(bodies=n_bodies)
    statuses = {"active": 0, "suspended": 0, "withdrawn": 0, "restored": 0, "expired": 0}
    n_lines = max(n_lines, n_bodies)
    line_id = period_id = 0
    for body_id, line_count in enumerate(_line_counts(rng, n_bodies, n_lines), start=1):
        kind = rng.choices(list(SUFFIXES), weights=(45, 45, 10))[0]
        foreign = rng.random() < 0.1
        province = None if foreign else rng.choice(MAINLAND)
        country = rng.choice(FOREIGN_COUNTRIES) if foreign else "CN"
        first, second = rng.sample(SYLLABLES, 2)
        place = provinces()[province] if province else None
        trade_zh, trade_en = first[0] + second[0], first[1] + second[1].lower()
        zh = f"{place.name_zh if place else ''}{trade_zh}{SUFFIXES[kind][0]}{body_id}"
        en = f"{place.name_en if place else country} {trade_en} {SUFFIXES[kind][1]} {body_id}"
        rows["organization"].append({
            "id": body_id, "credit_code": None if foreign else _credit_code(body_id, province or "11"),
            "credit_code_warning": None, "name_zh": zh, "name_en": en, "country": country,
            "province": province, "address": "", "website": "",
        })
        rows["body"].append({
            "id": body_id, "code": f"{CODE_PREFIXES[kind]}-{body_id:06d}", "kind": kind,
            "organization_id": body_id, "contact_name": "", "contact_email": "", "contact_phone": "",
            "created_at": now, "updated_at": now, "version": 1, "search_text": "",
            "list_key": list_key(province, f"{CODE_PREFIXES[kind]}-{body_id:06d}"),
        })
        body_segments: list[Segment] = []
        schemes = {"certification_body": ("cnca", f"CNCA-R-{2002 + body_id % 20}-{body_id // 20:04d}"),
                   "testing_lab": ("cnas", f"CNAS L{body_id:05d}"),
                   "inspection_body": ("cma", f"{body_id:012d}")}
        scheme, value = schemes[kind]
        rows["body_identifier"].append({"id": body_id, "body_id": body_id, "scheme": scheme, "value": value})
        organization, body = rows["organization"][-1], rows["body"][-1]
        parts = [zh, en, body["code"], organization["credit_code"] or "", value]
        body["search_text"] = "\n".join(p for p in parts if p).lower()  # as registry.bodies.search_text_of
        if body_id % 500 == 0:
            credit_code = rows["organization"][-1]["credit_code"]
            code = rows["body"][-1]["code"]
            info.search_terms += [trade_zh, trade_en, value, code, (credit_code or en)[:12]]
        home = {"GB": "UK"}.get(country, country)
        weights = {j: (20 if j == home else 1) for j in jurisdictions} if foreign else DOMESTIC_WEIGHTS
        for jurisdiction, category in _pick_combos(rng, line_count, weights, categories):
            line_id += 1
            valid_from = dt.date(2020, 1, 1) + dt.timedelta(days=rng.randint(0, 2000))
            valid_from = min(valid_from, today - dt.timedelta(days=60))
            roll = rng.random()
            fate = ("suspended" if roll < 0.10 else "withdrawn" if roll < 0.15
                    else "restored" if roll < 0.20 else "expired" if roll < 0.28 else "active")
            statuses[fate] += 1
            if fate == "expired":
                valid_until: dt.date | None = valid_from + dt.timedelta(
                    days=rng.randint(30, max(31, (today - valid_from).days - 1)))
            else:
                valid_until = None if rng.random() < 0.1 else today + dt.timedelta(days=rng.randint(30, 2000))
            changes = {"suspended": ["suspended"], "withdrawn": ["withdrawn"],
                       "restored": ["suspended", "active"]}.get(fate, [])
            dates = [valid_from]
            if changes:
                days = sorted(rng.sample(range(1, (today - valid_from).days), len(changes)))
                dates += [valid_from + dt.timedelta(days=d) for d in days]
            sequence = ["active", *changes]
            periods: list[Period] = []
            for k, status in enumerate(sequence):
                period_id += 1
                rows["status_period"].append({
                    "id": period_id, "authorization_id": line_id, "status": status,
                    "effective_from": dates[k],
                    "effective_until": dates[k + 1] if k + 1 < len(dates) else None,
                    "reason": "benchmark", "recorded_at": now, "actor": "bench",
                })
                periods.append(Period(status, dates[k], dates[k + 1] if k + 1 < len(dates) else None))
            segments = compute(valid_from, valid_until, periods)
            body_segments += segments
            for row in timeline_rows(line_id, body_id, category, jurisdiction, segments):
                rows["authorization_timeline"].append({"id": len(rows["authorization_timeline"]) + 1, **row})
            rows["authorization"].append({
                "id": line_id, "body_id": body_id, "jurisdiction": jurisdiction,
                "scheme": SCHEMES[jurisdiction], "category": category, "standards": "", "tests": "",
                "valid_from": valid_from, "valid_until": valid_until, "status": sequence[-1], "version": 1,
            })
        for row in body_rows(body_id, kind, province, rows["body"][-1]["code"], body_segments):
            rows["body_timeline"].append({"id": len(rows["body_timeline"]) + 1, **row})
    info.lines, info.periods, info.statuses = line_id, period_id, statuses
    return rows, info


# In foreign-key order.
TABLES: tuple[Table, ...] = tuple(
    Base.metadata.tables[model.__tablename__]
    for model in (
        Organization, Body, BodyIdentifier, Authorization, StatusPeriod, AuthorizationTimeline, BodyTimeline
    )
)


def bulk_insert(engine: Engine, rows: dict[str, list[dict[str, Any]]], *, analyze: bool = True) -> None:
    """Load every row with the driver's fastest path, then (optionally) refresh planner statistics.

    PostgreSQL gets COPY; SQLite gets one executemany per table of values already converted by
    each column's own SQLAlchemy type (so dates are stored exactly as the ORM would store them).
    """
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN")  # registry.db puts pysqlite in autocommit mode: one transaction, not 245k
        for table in TABLES:
            names = [column.name for column in table.columns]
            values = (tuple(row[name] for name in names) for row in rows[table.name])
            quoted = ", ".join(f'"{name}"' for name in names)
            if engine.dialect.name == "postgresql":
                with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:  # type: ignore[attr-defined]
                    for value in values:
                        copy.write_row(value)
            else:
                processors = [column.type.bind_processor(engine.dialect) for column in table.columns]
                converted = [
                    tuple(f(v) if f and v is not None else v for f, v in zip(processors, value, strict=True))
                    for value in values
                ]
                marks = ", ".join("?" for _ in names)
                cursor.executemany(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', converted)
        if engine.dialect.name == "postgresql":
            _reset_sequences(cursor, (table.name for table in TABLES))
        if analyze:
            # Inside the transaction: an AUTOCOMMIT connection would not do on SQLite, where
            # registry.db emits its own BEGIN and the pool's rollback would discard the statistics.
            cursor.execute("ANALYZE")
        raw.commit()
        if analyze and engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load in production: the visibility map
            # lets the list queries use index-only scans.
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            raw.cursor().execute("VACUUM ANALYZE")
    finally:
        raw.close()


def _reset_sequences(cursor: Any, tables: Iterable[str]) -> None:
    # Explicit ids leave the serial sequences at 1; later inserts through the app would clash.
    for table in tables:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT max(id) FROM \"{table}\"))"
        )
