"""Reference data shipped with the project: categories, jurisdictions, provinces."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

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
