"""Demo certificates: every state, each scanning to the verdict it is named after, online and offline."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import keystore, seals, verification
from registry.bundle_export import build_trust_bundle
from registry.demo import WITHDRAWN_BODY, load_demo
from registry.demo_certificates import EXPECTED, PLAN, load_demo_certificates
from registry.identifiers import check_credit_code
from registry.models import Certificate, Seal, SigningKeyRecord
from registry.queries import is_authorized
from tests.unit.seal_support import PASSPHRASE, make_world
from verify.bundle import load_and_verify
from verify.keys import public_key_from_pem
from verify.offline import OfflineVerifier


def test_demo_certificates_cover_every_state(session: Session, now: dt.datetime) -> None:
    load_demo(session, now)
    nested = session.begin_nested()
    keystore.generate_key(session, "seal", PASSPHRASE, actor="op", now=now)  # an operator's key
    assert "seal keys already exist" in load_demo_certificates(session, now, PASSPHRASE).message
    nested.rollback()
    summary = load_demo_certificates(session, now, PASSPHRASE)

    assert summary.created
    assert summary.by_scenario == Counter(scenario for scenario, *_ in PLAN)
    assert len(summary.certificates) == session.scalar(select(func.count(Certificate.id))) == 20
    assert session.scalar(select(func.count(Seal.id))) == 20
    assert {c.jurisdiction for c in summary.certificates} >= {"CN", "EU", "UK"}
    assert len({c.category for c in summary.certificates}) == 6
    ended = summary.sample("body_ended")
    assert ended is not None and ended.body_code == WITHDRAWN_BODY

    data = build_trust_bundle(session, now=now, passphrase=PASSPHRASE)
    root = public_key_from_pem(keystore.root_public_pem(session))
    offline = OfflineVerifier(load_and_verify(data, root, now))
    for demo in summary.certificates:
        url = seals.seal_url("127.0.0.1:5000", demo.token)
        result = verification.verify_scanned(session, url, now=now)
        assert result.code == demo.expected == EXPECTED[demo.scenario], demo
        assert result.is_warning == (demo.scenario == "body_ended")
        assert offline.verify_scanned(url, now).verdict.code.value == demo.expected, demo

    states = Counter(
        session.scalars(select(SigningKeyRecord.state).where(SigningKeyRecord.purpose == "seal"))
    )
    assert states == {"active": 1, "retired": 1, "revoked": 1}
    retired = {c.kid for c in summary.certificates if c.scenario == "retired_key"}
    revoked = {c.kid for c in summary.certificates if c.scenario == "revoked_key"}
    assert len(retired) == len(revoked) == 1 and retired != revoked
    assert keystore.active_record(session, "root") is not None

    for certificate in session.scalars(select(Certificate)):
        for party in (certificate.holder, certificate.manufacturer):
            assert party.credit_code and check_credit_code(party.credit_code).warning is None
        for report in certificate.test_reports:
            assert any(
                is_authorized(session, report.lab.code, certificate.category, j, report.report_date)
                for j in ("CN", "EU", "UK", "US")
            )
    assert sum(bool(c.test_reports) for c in session.scalars(select(Certificate))) >= 15

    again = load_demo_certificates(session, now, PASSPHRASE)
    assert not again.created and "already" in again.message
    assert session.scalar(select(func.count(Certificate.id))) == 20


def test_demo_certificates_need_the_demo_bodies(session: Session, now: dt.datetime) -> None:
    make_world(session, now, keys=False)  # an operator's registry, without the demo bodies
    summary = load_demo_certificates(session, now, PASSPHRASE)
    assert not summary.created and "no demo bodies" in summary.message
    assert session.scalar(select(func.count(SigningKeyRecord.id))) == 0
