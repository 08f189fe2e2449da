"""What a verification shows of a certificate, read cheaply: verifying is the hot path.

``registry.seals`` loads the certificate and its body and nothing more (a FORGED verdict must
not pay for the holder's name). Showing a genuine one needs three organizations: one plain
query for the three, not three lazy loads. The names of categories and jurisdictions are
reference data, kept per process for a few minutes: a renamed category shows up after that
delay, while the verdict itself is never cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, literal, select, union_all
from sqlalchemy.orm import Session

from registry.models import Body, Category, Certificate, Jurisdiction, Organization

REFERENCE_TTL_SECONDS = 300.0
_CHUNK = 300  # certificates per query: at most 900 ids, under every parameter limit


@dataclass(frozen=True, slots=True)
class Party:
    """An organization as shown (``localized()`` reads name_zh / name_en); ``code`` for a body."""

    name_zh: str
    name_en: str
    credit_code: str | None
    country: str
    code: str = ""


@dataclass(frozen=True, slots=True)
class Parties:
    holder: Party
    manufacturer: Party
    body: Party


_ORG_COLUMNS = (Organization.name_zh, Organization.name_en, Organization.credit_code, Organization.country)


# Built once (building a SELECT costs more than running it); the IN lists expand per call.
# Core rows, one round trip for both kinds: no ORM objects to build for a few names. (Going
# through certificate.body would load the body again: registry.seals loads it unattached.)
_PARTIES = union_all(
    select(literal("o").label("kind"), Organization.id, literal("").label("code"), *_ORG_COLUMNS).where(
        Organization.id.in_(bindparam("org_ids", expanding=True))
    ),
    select(literal("b").label("kind"), Body.id, Body.code, *_ORG_COLUMNS)
    .join(Organization, Body.organization_id == Organization.id)
    .where(Body.id.in_(bindparam("body_ids", expanding=True))),
)


def _rows(session: Session, org_ids: list[int], body_ids: list[int]) -> Iterable[Row[Any]]:
    """(kind, id, code, name_zh, name_en, credit_code, country) rows: kind "o" or "b"."""
    return session.connection().execute(_PARTIES, {"org_ids": org_ids, "body_ids": body_ids})


def parties_for(session: Session, certificates: Iterable[Certificate]) -> dict[int, Parties]:
    """Holder, manufacturer and issuing body of each certificate, by certificate id: one query
    per few hundred certificates (a batch of verifications shares them)."""
    wanted = {c.id: (c.holder_id, c.manufacturer_id, c.body_id) for c in certificates}
    trios = list(wanted.values())
    found: dict[tuple[str, int], Party] = {}
    for start in range(0, len(trios), _CHUNK):
        chunk = trios[start : start + _CHUNK]
        org_ids = sorted({h for h, _, _ in chunk} | {m for _, m, _ in chunk})
        body_ids = sorted({b for _, _, b in chunk})
        for row in _rows(session, org_ids, body_ids):
            kind, row_id, code, name_zh, name_en, credit_code, country = tuple(row)
            found[(kind, row_id)] = Party(name_zh, name_en or "", credit_code, country, code)
    return {
        cid: Parties(found[("o", h)], found[("o", m)], found[("b", b)]) for cid, (h, m, b) in wanted.items()
    }


def parties_of(session: Session, certificate: Certificate) -> Parties:
    """The three organizations of one certificate, in one query."""
    return parties_for(session, [certificate])[certificate.id]


@dataclass(frozen=True, slots=True)
class Name:
    """A category or jurisdiction name in both languages (``localized()`` reads it)."""

    name_zh: str
    name_en: str


class _ReferenceNames:
    """Category and jurisdiction names by code, reloaded after REFERENCE_TTL_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded_at = -REFERENCE_TTL_SECONDS
        self._names: dict[str, dict[str, Name]] = {"category": {}, "jurisdiction": {}}

    def get(self, session: Session, kind: str, code: str) -> Name:
        if time.monotonic() - self._loaded_at > REFERENCE_TTL_SECONDS or code not in self._names[kind]:
            self._reload(session)
        return self._names[kind].get(code) or Name(code, code)

    def _reload(self, session: Session) -> None:
        connection = session.connection()
        names = {
            "category": {
                c: Name(zh, en)
                for c, zh, en in connection.execute(select(Category.code, Category.name_zh, Category.name_en))
            },
            "jurisdiction": {
                c: Name(zh, en)
                for c, zh, en in connection.execute(
                    select(Jurisdiction.code, Jurisdiction.name_zh, Jurisdiction.name_en)
                )
            },
        }
        with self._lock:
            self._names = names
            self._loaded_at = time.monotonic()


REFERENCE_NAMES = _ReferenceNames()


def category_name(session: Session, code: str) -> Name:
    return REFERENCE_NAMES.get(session, "category", code)


def jurisdiction_name(session: Session, code: str) -> Name:
    return REFERENCE_NAMES.get(session, "jurisdiction", code)
