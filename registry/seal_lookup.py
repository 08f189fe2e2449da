"""The registry's reads for seal verification: the certificate a seal names and its body's lines.

``registry.verification`` decides; this module reads. Plain Core rows, never ORM objects: a
single seal's certificate, with everything a verdict shows (issuing body, holder,
manufacturer), the timeline segments of its body's lines for the sealed category and
jurisdiction, and the key ring's stamp, in one statement (:func:`lookup_one`); a batch's in
two (:func:`lookup_many`).

The same certificate is scanned again and again (its QR is printed on every box of a product),
and its rows come back the same until something about it changes. So :func:`lookup_one`
keeps what it built from the rows it read (a ``verify.bounded_memo.BoundedMemo``): the key is
every column the statement read (the certificate's once, each row's segment and stamp) and the
scope the segments were read for, so a changed status, name or authorization segment is a new
key, never a stale answer; only the Python objects built from the statement's result are
reused.

A scan outside a transaction (the seal page's and the API's ``LookupReader``, which sees only
committed rows) skips the statement itself while nothing it reads has changed: a trigger
replaces ``verdict_stamp.stamp`` in every transaction that changes a table the statement reads
(migration 0013), so the scan reads the stamp first, in one small statement with the key
ring's, and what the same seal's scope gave under that stamp is the answer. What was read
after the stamp is kept under it, so an entry is never older than its stamp; a committed change
replaces the stamp with a new random value before its commit returns, so no later scan meets an
entry from before it. A reader inside a transaction may see its own changes before the stamp
does (PostgreSQL replaces it at COMMIT), so it always runs the statement.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session, aliased

from registry import keystore
from registry.db import LookupReader, Reader, engine_of
from registry.driver_sql import DriverRead
from registry.models import (
    AuthorizationTimeline,
    Body,
    Certificate,
    CertificateStatus,
    Organization,
    VerdictStamp,
)
from verify.authority import AuthorizationLine, StatusPeriod
from verify.bounded_memo import BoundedMemo
from verify.claims import Claims

_CHUNK = 500  # IN-list size: well under SQLite's and PostgreSQL's parameter limits

CertificateKey = tuple[str, str]
ScopeKey = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class Party:
    """An organization as a verdict shows it (``localized()`` reads name_zh / name_en).

    ``code`` is the body code for an issuing body, empty for a holder or manufacturer.
    """

    name_zh: str
    name_en: str
    credit_code: str | None
    country: str
    code: str = ""


@dataclass(frozen=True, slots=True)
class VerifiedCertificate:
    """The registry's record of a sealed certificate, as a verdict shows it (read-only facts)."""

    id: int
    body_id: int
    number: str
    body: Party
    holder: Party
    manufacturer: Party
    category: str
    jurisdiction: str
    scheme: str
    product_name: str
    models: str
    standards: str
    issue_date: dt.date
    expiry_date: dt.date
    status: str
    # The transparency log's leaf of the certificate's latest change (Certificate.log_index).
    log_index: int | None = None

    def status_on(self, day: dt.date) -> str:
        """valid / suspended / withdrawn as stored, or expired once ``day`` is past the expiry
        (the rule of ``registry.certificates.status_on``, which takes the ORM object)."""
        if self.status != CertificateStatus.WITHDRAWN.value and day > self.expiry_date:
            return CertificateStatus.EXPIRED.value
        return self.status


def chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[list[Any]]:
    """``values`` in lists of at most ``size``: IN lists under every parameter limit."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


# Statements built once (building a SELECT costs more than running these); IN lists expand.
_T = AuthorizationTimeline
_BODY_ORG, _HOLDER, _MAKER = (aliased(Organization) for _ in range(3))
_PARTY_COLUMNS = [
    column
    for org in (_BODY_ORG, _HOLDER, _MAKER)
    for column in (org.name_zh, org.name_en, org.credit_code, org.country)
]
_CERTIFICATE_COLUMNS = (
    Certificate.id, Certificate.body_id, Body.code, Certificate.number, *_PARTY_COLUMNS,
    Certificate.category, Certificate.jurisdiction, Certificate.scheme, Certificate.product_name,
    Certificate.models, Certificate.standards, Certificate.issue_date, Certificate.expiry_date,
    Certificate.status, Certificate.log_index,
)  # fmt: skip
_WIDTH = len(_CERTIFICATE_COLUMNS)
_CERTIFICATE_BASE = (
    select(*_CERTIFICATE_COLUMNS)
    .join(Body, Certificate.body_id == Body.id)
    .join(_BODY_ORG, Body.organization_id == _BODY_ORG.id)
    .join(_HOLDER, Certificate.holder_id == _HOLDER.id)
    .join(_MAKER, Certificate.manufacturer_id == _MAKER.id)
)
# One seal, one round trip: the certificate with the timeline segments of its body's lines for
# the sealed category and jurisdiction (as claimed, exactly as the offline verifier reads them),
# and the key ring's stamp as of the same statement.
_ONE_CERTIFICATE = (
    _CERTIFICATE_BASE.add_columns(_T.authorization_id, _T.status, _T.starts, _T.ends, keystore.KEY_RING_STAMP)
    .outerjoin(
        _T,
        and_(
            _T.body_id == Certificate.body_id,
            _T.category == bindparam("category"),
            _T.jurisdiction == bindparam("jurisdiction"),
        ),
    )
    .where(Body.code == bindparam("code"), Certificate.number == bindparam("number"))
    # The same content in the same order (PostgreSQL returns the segments in any order): one
    # memo key per state of a certificate, not one per order of its rows.
    .order_by(_T.starts, _T.authorization_id)
)
_ONE_CERTIFICATE_READ = DriverRead(_ONE_CERTIFICATE)  # every scan runs it: the driver's cursor
_CERTIFICATES = _CERTIFICATE_BASE.where(
    Body.code.in_(bindparam("codes", expanding=True)),
    Certificate.number.in_(bindparam("numbers", expanding=True)),
)
SEGMENTS = select(
    _T.authorization_id, _T.body_id, _T.category, _T.jurisdiction, _T.status, _T.starts, _T.ends
).where(
    _T.body_id.in_(bindparam("body_ids", expanding=True)),
    _T.category.in_(bindparam("categories", expanding=True)),
)

Segment = tuple[int, ScopeKey, dt.date, dt.date | None, str]  # authorization id, scope, starts, ends, status
Certificates = dict[CertificateKey, VerifiedCertificate]
Lines = dict[ScopeKey, tuple[AuthorizationLine, ...]]


def _certificate(row: Sequence[Any]) -> VerifiedCertificate:
    """A VerifiedCertificate from the first ``_WIDTH`` columns of a row of the statements above."""
    (cid, body_id, code, number, *parties), rest = row[:16], row[16:_WIDTH]
    body, holder, maker = (parties[i : i + 4] for i in (0, 4, 8))
    category, jurisdiction, scheme, product, models, standards, issued, expires, status, log_index = rest
    return VerifiedCertificate(
        id=cid,
        body_id=body_id,
        number=number,
        body=Party(body[0], body[1] or "", body[2], body[3], code),
        holder=Party(holder[0], holder[1] or "", holder[2], holder[3]),
        manufacturer=Party(maker[0], maker[1] or "", maker[2], maker[3]),
        category=category,
        jurisdiction=jurisdiction,
        scheme=scheme,
        product_name=product,
        models=models or "",
        standards=standards or "",
        issue_date=issued,
        expiry_date=expires,
        status=status,
        log_index=log_index,
    )


def lines_from_segments(segments: Iterable[Segment]) -> Lines:
    """Scope lines rebuilt from their timeline segments.

    A line's timeline holds its displayed status over time (``registry.timeline``, derived from
    its validity window and status periods by the rule ``verify.authority`` applies), so a line
    made of its segments answers ``status_on`` exactly as the line itself would.
    """
    parts: dict[int, list[tuple[dt.date, dt.date | None, str]]] = defaultdict(list)
    scope_of: dict[int, ScopeKey] = {}
    for authorization_id, scope, starts, ends, status in segments:
        scope_of[authorization_id] = scope
        parts[authorization_id].append((starts, ends, status))
    lines: dict[ScopeKey, list[AuthorizationLine]] = defaultdict(list)
    for authorization_id, pieces in parts.items():
        pieces.sort()
        scope = scope_of[authorization_id]
        lines[scope].append(
            AuthorizationLine(
                category=scope[1],
                jurisdiction=scope[2],
                scheme="",
                valid_from=pieces[0][0],
                valid_until=None,  # expiry is already a segment of the timeline
                periods=tuple(StatusPeriod(status, starts, ends) for starts, ends, status in pieces),
            )
        )
    return {scope: tuple(found) for scope, found in lines.items()}


# What lookup_one built from the rows it read, by the rows themselves (see the module's text).
# An entry keeps its rows and what was built from them: about 3 KB (measured with tracemalloc:
# tests/unit/test_seal_lookup.py), so at most about 12 MB a process.
ROW_MEMO_SIZE = 4096
_built: BoundedMemo[tuple[Any, ...], tuple[VerifiedCertificate, Lines]] = BoundedMemo(ROW_MEMO_SIZE)


# The stamps a scan outside a transaction reads first: the verdict stamp (migration 0013) and the
# key ring's (0006), in one small statement.
_STAMPS_READ = DriverRead(select(VerdictStamp.stamp, keystore.KEY_RING_STAMP).where(VerdictStamp.id == 1))
# What lookup_one answered outside a transaction, by (engine, as a stamp is unique only within
# one database; verdict stamp, body code, certificate
# number, category, jurisdiction): the built objects are _built's, so an entry is a key and a
# pointer; None for a certificate not registered. A changed stamp leaves the old entries
# unreachable; they go as new ones come.
STAMP_MEMO_SIZE = 8192
_NOT_KEPT = object()
_by_stamp: BoundedMemo[tuple[Any, str, str, str, str, str], tuple[VerifiedCertificate, Lines] | None]
_by_stamp = BoundedMemo(STAMP_MEMO_SIZE)


def lookup_one(session: Reader, claims: Claims) -> tuple[Certificates, Lines, str | None]:
    """The certificate named by ``claims``, its body's lines and the key ring's stamp (None when
    no such certificate and no stamp was read), in one query; outside a transaction, in a small
    one while nothing the lookup reads has changed since the same seal's scope was last read."""
    if not isinstance(session, LookupReader):
        return _lookup(session, claims)
    ((verdict_stamp, key_stamp),) = _STAMPS_READ.rows(session, {})
    scope = (engine_of(session), verdict_stamp, claims.body_code, claims.certificate_number,
             claims.category, claims.jurisdiction)  # fmt: skip
    kept = _by_stamp.get(scope, _NOT_KEPT)
    if kept is _NOT_KEPT:
        certificates, lines, current = _lookup(session, claims)
        found = certificates.get(claims.certificate_key)
        # Read after the stamp: as new as the stamp's state or newer, never older.
        _by_stamp.put(scope, None if found is None else (found, lines))
        return certificates, lines, current
    if kept is None:
        return {}, {}, key_stamp
    certificate, kept_lines = cast(tuple[VerifiedCertificate, Lines], kept)
    return {claims.certificate_key: certificate}, dict(kept_lines), key_stamp


def _lookup(session: Reader, claims: Claims) -> tuple[Certificates, Lines, str | None]:
    """:func:`lookup_one`'s statement, and the objects built from its rows (kept by the rows)."""
    params = {
        "code": claims.body_code,
        "number": claims.certificate_number,
        "category": claims.category,
        "jurisdiction": claims.jurisdiction,
    }
    rows = _ONE_CERTIFICATE_READ.rows(session, params)
    if not rows:
        return {}, {}, None
    # Every column read, and the scope the segments were read for: what was built from them is
    # built from nothing else, so an equal key is an equal answer. The certificate's columns are
    # the same in every row (one certificate), so only the first row's are kept. Every column is
    # an int, a text, a date or NULL, so the key hashes (tests/unit/test_seal_lookup.py checks).
    key = (claims.category, claims.jurisdiction, rows[0], *[row[_WIDTH:] for row in rows[1:]])
    built = _built.get(key)
    if built is None:
        built = _certificate(rows[0]), _lines_of_rows(rows, claims)
        _built.put(key, built)
    certificate, lines = built
    # New dicts each time: a caller may keep or change what it is given, never the memo.
    return {claims.certificate_key: certificate}, dict(lines), rows[0][-1]  # the stamp, in every row


def _lines_of_rows(rows: Sequence[Sequence[Any]], claims: Claims) -> Lines:
    """The lines of the timeline segments in ``rows`` (the columns after the certificate's)."""
    scope = (rows[0][1], claims.category, claims.jurisdiction)  # the certificate's body_id
    segments: list[Segment] = []
    for row in rows:
        authorization_id, status, starts, ends, _stamp = row[_WIDTH:]
        if authorization_id is not None:
            segments.append((authorization_id, scope, starts, ends, status))
    return lines_from_segments(segments)


def lookup_many(session: Session, genuine: list[Claims]) -> tuple[Certificates, Lines]:
    """The certificates named by many seals, then their bodies' lines: two queries (per 500)."""
    keys = {claims.certificate_key for claims in genuine}
    connection = session.connection()
    certificates: Certificates = {}
    codes = sorted({code for code, _ in keys})
    numbers = sorted({number for _, number in keys})
    for code_chunk in chunks(codes):
        for number_chunk in chunks(numbers):
            for row in connection.execute(_CERTIFICATES, {"codes": code_chunk, "numbers": number_chunk}):
                if (row.code, row.number) in keys:
                    certificates[(row.code, row.number)] = _certificate(row)
    scopes = {
        (certificates[c.certificate_key].body_id, c.category, c.jurisdiction)
        for c in genuine
        if c.certificate_key in certificates
    }
    segments: list[Segment] = []
    body_ids = sorted({body_id for body_id, _, _ in scopes})
    categories = sorted({category for _, category, _ in scopes})
    for chunk in chunks(body_ids) if scopes else ():
        rows = connection.execute(SEGMENTS, {"body_ids": chunk, "categories": categories})
        for authorization_id, body_id, category, jurisdiction, status, starts, ends in rows:
            if (body_id, category, jurisdiction) in scopes:
                segments.append((authorization_id, (body_id, category, jurisdiction), starts, ends, status))
    return certificates, lines_from_segments(segments)
