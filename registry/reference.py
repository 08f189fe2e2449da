"""Reference data shipped with the project: categories, jurisdictions, provinces."""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db import Reader, connection_of, engine_of
from registry.models import Category, Jurisdiction

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Province:
    code: str
    name_zh: str
    name_en: str


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def provinces() -> dict[str, Province]:
    """Provincial-level divisions by their GB/T 2260 two-digit code."""
    return {r["code"]: Province(r["code"], r["name_zh"], r["name_en"]) for r in _rows("provinces.csv")}


def province_code(value: str) -> str:
    """Accept a code, a Chinese or an English name; return the two-digit code or raise ValueError."""
    text = value.strip()
    for province in provinces().values():
        if text in (province.code, province.name_zh) or text.lower() == province.name_en.lower():
            return province.code
    raise ValueError(f"unknown province {value!r}")


def category_rows() -> list[dict[str, str]]:
    return _rows("categories.csv")


def jurisdiction_rows() -> list[dict[str, str]]:
    return _rows("jurisdictions.csv")


def sync_reference_data(session: Session) -> None:
    """Insert or update categories and jurisdictions from the shipped data files (idempotent)."""
    existing_categories = {c.code: c for c in session.scalars(select(Category))}
    for order, row in enumerate(category_rows()):
        category = existing_categories.get(row["category"]) or Category(code=row["category"])
        category.name_zh = row["name_zh"]
        category.name_en = row["name_en"]
        category.standards_cn = row["standards_cn"]
        category.standards_international = row["standards_international"]
        category.hs6_codes = row["hs6_codes"]
        category.hs6_neighbours = row["hs6_neighbours"]
        category.sort_order = order
        session.add(category)
    existing_jurisdictions = {j.code: j for j in session.scalars(select(Jurisdiction))}
    for row in jurisdiction_rows():
        jurisdiction = existing_jurisdictions.get(row["code"]) or Jurisdiction(code=row["code"])
        jurisdiction.name_zh = row["name_zh"]
        jurisdiction.name_en = row["name_en"]
        jurisdiction.sort_order = int(row["sort_order"])
        session.add(jurisdiction)
    session.flush()
    forget_reference_snapshots()


@dataclass(frozen=True)
class ReferenceItem:
    """A category or jurisdiction, detached from any session (safe to cache across requests)."""

    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class ReferenceSnapshot:
    categories: tuple[ReferenceItem, ...]
    jurisdictions: tuple[ReferenceItem, ...]
    # (attribute, language) -> {code: name}: built on first use, kept as long as the snapshot
    # (shared by every request and thread, hence read-only views).
    _names: dict[tuple[str, str], Mapping[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def names(self, attribute: Literal["categories", "jurisdictions"], language: str) -> Mapping[str, str]:
        """Code -> name of the categories or jurisdictions in ``language`` ("zh" or "en"),
        falling back to the other language's name when one is empty."""
        key = (attribute, language)
        found = self._names.get(key)
        if found is None:
            items: tuple[ReferenceItem, ...] = getattr(self, attribute)
            zh = language == "zh"
            found = self._names[key] = MappingProxyType({
                item.code: (item.name_zh or item.name_en) if zh else (item.name_en or item.name_zh)
                for item in items
            })  # fmt: skip
        return found

    @property
    def category_codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.categories)

    @property
    def jurisdiction_codes(self) -> frozenset[str]:
        return frozenset(j.code for j in self.jurisdictions)


# Reference tables change only through migrations and sync_reference_data, so every request
# need not read them again: a minute's staleness at most, per process and database.
REFERENCE_TTL_SECONDS = 60.0
_snapshots: dict[Any, tuple[float, ReferenceSnapshot]] = {}


def reference_snapshot(session: Reader, *, now: float | None = None) -> ReferenceSnapshot:
    """Categories and jurisdictions in display order, cached for REFERENCE_TTL_SECONDS.

    ``session`` may be a bare Connection (the seal page names categories on every scan)."""
    clock = time.monotonic() if now is None else now
    key = engine_of(session)  # by identity: rendering the URL per call costs more than the lookup
    cached = _snapshots.get(key)
    if cached is not None and clock - cached[0] < REFERENCE_TTL_SECONDS:
        return cached[1]
    connection = connection_of(session)
    snapshot = ReferenceSnapshot(
        categories=tuple(
            ReferenceItem(*row)
            for row in connection.execute(
                select(Category.code, Category.name_zh, Category.name_en).order_by(
                    Category.sort_order, Category.code
                )
            )
        ),
        jurisdictions=tuple(
            ReferenceItem(*row)
            for row in connection.execute(
                select(Jurisdiction.code, Jurisdiction.name_zh, Jurisdiction.name_en).order_by(
                    Jurisdiction.sort_order, Jurisdiction.code
                )
            )
        ),
    )
    _snapshots[key] = (clock, snapshot)
    return snapshot


def forget_reference_snapshots() -> None:
    """Drop the cache (after sync_reference_data in this process, and in tests)."""
    _snapshots.clear()
