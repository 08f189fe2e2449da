"""registry.seal_lookup: a seal's certificate and lines in one statement, and what the lookup
keeps of the rows it read (built once per distinct row, never a stale answer)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tracemalloc

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from registry import seal_lookup, seals, verification
from registry.authorizations import change_status
from registry.certificates import change_certificate_status
from registry.models import Certificate, Organization
from tests.unit.seal_support import HOST, PASSPHRASE, World, make_world, register
from verify.claims import Claims


@pytest.fixture
def world(session: Session, now: dt.datetime) -> World:
    return make_world(session, now)


@pytest.fixture(autouse=True)
def empty_memo() -> None:
    seal_lookup._built.clear()  # another test's rows are not this one's concern


def sealed_url(session: Session, now: dt.datetime, world: World, number: str = "CQC2026000001") -> str:
    certificate = register(session, now, world, number)
    seal = seals.issue_seal(session, certificate, now=now, passphrase=PASSPHRASE)
    session.flush()
    return seals.seal_url(HOST, seal.token)


def claims_of(session: Session, now: dt.datetime, url: str) -> Claims:
    claims = verification.verify_scanned(session, url, now=now).claims
    assert claims is not None
    return claims


def test_the_same_rows_are_built_once(session: Session, now: dt.datetime, world: World) -> None:
    url = sealed_url(session, now, world)
    first = verification.verify_scanned(session, url, now=now)
    again = verification.verify_scanned(session, url, now=now)
    assert first.code == again.code == "VALID"
    assert again.certificate is first.certificate  # built from the first scan's rows
    assert len(seal_lookup._built) == 1


def test_any_change_to_what_a_verdict_reads_is_read_at_once(
    session: Session, now: dt.datetime, world: World
) -> None:
    """The memo is keyed by the rows, so the certificate's status, a party's name and the
    body's line each count from the next scan, without telling the memo anything."""
    url = sealed_url(session, now, world)
    first = verification.verify_scanned(session, url, now=now)
    assert first.code == "VALID" and first.certificate is not None

    holder_id = session.get(Certificate, first.certificate.id).holder_id  # type: ignore[union-attr]
    session.execute(update(Organization).where(Organization.id == holder_id).values(name_zh="新名字有限公司"))
    renamed = verification.verify_scanned(session, url, now=now)
    assert renamed.certificate is not None and renamed.certificate.holder.name_zh == "新名字有限公司"

    change_certificate_status(session, world.body.code, "CQC2026000001", "suspended", reason="audit",
                              actor="op", now=now)
    session.flush()
    assert verification.verify_scanned(session, url, now=now).code == "CERTIFICATE_SUSPENDED"
    change_certificate_status(session, world.body.code, "CQC2026000001", "valid", reason="restored",
                              actor="op", now=now)
    session.flush()
    assert verification.verify_scanned(session, url, now=now).code == "VALID"

    change_status(session, world.line.id, "withdrawn", reason="decision", actor="admin", now=now,
                  effective=dt.date(2026, 5, 1))
    session.flush()
    ended = verification.verify_scanned(session, url, now=now)
    assert ended.code == "BODY_AUTHORIZATION_ENDED", ended


def test_each_step_of_the_body_line_counts_at_once(session: Session, now: dt.datetime, world: World) -> None:
    """Suspended from May, restored from June, withdrawn from 10 June, scanned after each step
    with the memo kept: each step after the first leaves the first segment as it was and changes
    a later one, so a key without the later rows would answer VALID after the withdrawal."""
    url = sealed_url(session, now, world)
    steps = [
        (None, None, "VALID"),
        ("suspended", dt.date(2026, 5, 1), "BODY_AUTHORIZATION_ENDED"),
        ("active", dt.date(2026, 6, 1), "VALID"),
        ("withdrawn", dt.date(2026, 6, 10), "BODY_AUTHORIZATION_ENDED"),
    ]
    for status, effective, expected in steps:
        if status is not None:
            change_status(session, world.line.id, status, reason="decision", actor="admin", now=now,
                          effective=effective)
            session.flush()
        assert verification.verify_scanned(session, url, now=now).code == expected, (status, effective)


def test_every_column_read_makes_a_hashable_key() -> None:
    """The memo's key holds every column the statement reads: a JSON or array column added to
    it would make every scan raise, so only plain values are allowed."""
    for column in seal_lookup._ONE_CERTIFICATE.selected_columns:
        assert column.type.python_type in {int, str, dt.date}, column


def test_callers_get_containers_of_their_own(session: Session, now: dt.datetime, world: World) -> None:
    claims = claims_of(session, now, sealed_url(session, now, world))
    certificates, lines, stamp = seal_lookup.lookup_one(session, claims)
    assert certificates and lines and stamp
    certificates.clear()
    lines.clear()
    again, lines_again, _ = seal_lookup.lookup_one(session, claims)
    assert claims.certificate_key in again and lines_again


def test_an_unregistered_certificate_is_not_kept(session: Session, now: dt.datetime, world: World) -> None:
    claims = claims_of(session, now, sealed_url(session, now, world))
    other = dataclasses.replace(claims, certificate_number="NOT-REGISTERED")
    seal_lookup._built.clear()
    assert seal_lookup.lookup_one(session, other) == ({}, {}, None)
    assert len(seal_lookup._built) == 0


def test_an_entry_costs_a_few_kilobytes(session: Session, now: dt.datetime, world: World) -> None:
    """The figure ROW_MEMO_SIZE's comment quotes: what an entry keeps alive (its rows and what
    was built from them), so a full memo stays around ROW_MEMO_SIZE x this."""
    urls = [sealed_url(session, now, world, f"CQC20260000{n:02d}") for n in range(20)]
    claims = [claims_of(session, now, url) for url in urls]
    seal_lookup._built.clear()
    seal_lookup.lookup_one(session, claims[0])  # the statement's own caches, warmed
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for found in claims[1:]:
            seal_lookup.lookup_one(session, found)
        per_entry = (tracemalloc.get_traced_memory()[0] - before) / (len(claims) - 1)
    finally:
        tracemalloc.stop()
    assert len(seal_lookup._built) == len(claims)
    assert 1000 < per_entry < 3500, per_entry  # measured: about 2.9 KB (SQLite), 2.8 KB (PostgreSQL)
