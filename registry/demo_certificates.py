"""Demo certificates with seals in every state, so a new user can scan them at once.

Built on the demo registry (``registry.demo``) through the real services (registration rules,
status changes, key rotation and revocation, each with its audit event). Every holder,
manufacturer, number and report is invented. The certificates are chosen from the demo data by
the same rule the verifier applies, so each scenario's verdict is the one it is named after:

- valid (most of them), suspended, withdrawn, expired;
- body_ended: registered while its body (``registry.demo.WITHDRAWN_BODY``) was authorized,
  the body withdrawn later: BODY_AUTHORIZATION_ENDED, a warning during the grace period;
- retired_key: sealed with the first seal key, since rotated (still VALID until its verify_until);
- revoked_key: sealed with the second seal key, since revoked (KEY_REVOKED).

The keys are made here too (a root key for trust bundles, a log key for the transparency log's
checkpoints; seal keys 1 to 3), so the demo only loads into a registry with demo bodies and no
seal key and no certificate yet: it never rotates or revokes an operator's real keys (a root or
log key that already exists is kept).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import keystore, seals
from registry.bodies import registry_today
from registry.certificates import (
    CertificateInput,
    PartyInput,
    TestReportInput,
    change_certificate_status,
    register_certificate,
)
from registry.demo import ACTOR, WITHDRAWN_BODY, demo_credit_code
from registry.models import Authorization, Body, BodyKind, Certificate, Seal, SigningKeyRecord
from registry.queries import authorization_status_on, load_bodies
from verify.authority import authorization_facts, lines_from_rows

SEED = 20200214
# (scenario, category or None for any, jurisdiction or None for any, issued this many days ago,
#  valid for this many days)
PLAN: list[tuple[str, str | None, str | None, int, int]] = [
    ("valid", "mask", "CN", 120, 3 * 365),
    ("valid", "protective_clothing", "CN", 150, 3 * 365),
    ("valid", "ir_thermometer", "CN", 200, 4 * 365),
    ("valid", "test_reagent", "CN", 90, 2 * 365),
    ("valid", "ventilator", "CN", 240, 5 * 365),
    ("valid", "meltblown", "CN", 60, 2 * 365),
    ("valid", "mask", "EU", 300, 3 * 365),
    ("valid", "protective_clothing", "UK", 75, 3 * 365),
    ("valid", None, "EU", 180, 3 * 365),
    ("valid", None, None, 30, 3 * 365),
    ("suspended", "mask", None, 210, 3 * 365),
    ("suspended", None, None, 100, 3 * 365),
    ("withdrawn", "protective_clothing", None, 260, 3 * 365),
    ("withdrawn", None, None, 140, 3 * 365),
    ("expired", None, None, 400, 380),
    ("expired", "mask", None, 420, 365),
    ("body_ended", None, None, 200, 3 * 365),
    ("retired_key", "mask", None, 160, 3 * 365),
    ("retired_key", None, None, 220, 3 * 365),
    ("revoked_key", None, None, 130, 3 * 365),
]
EXPECTED = {
    "valid": "VALID",
    "suspended": "CERTIFICATE_SUSPENDED",
    "withdrawn": "CERTIFICATE_WITHDRAWN",
    "expired": "CERTIFICATE_EXPIRED",
    "body_ended": "BODY_AUTHORIZATION_ENDED",
    "retired_key": "VALID",
    "revoked_key": "KEY_REVOKED",
}
PRODUCTS = {
    "mask": ("KN95 颗粒物防护口罩 / KN95 particulate respirator", "AH-9501; AH-9502V"),
    "protective_clothing": ("一次性医用防护服 / Disposable medical protective coverall", "FH-200 (S-XXL)"),
    "ventilator": ("无创呼吸机 / Non-invasive ventilator", "RV-30; RV-30S"),
    "ir_thermometer": ("红外额温计 / Infrared forehead thermometer", "TW-11; TW-12"),
    "test_reagent": ("新型冠状病毒抗原检测试剂盒 / SARS-CoV-2 antigen test kit", "1 test; 20 tests"),
    "meltblown": ("BFE99 熔喷非织造布 / BFE99 melt-blown nonwoven", "25 g/m2; 30 g/m2"),
}
MAKERS = [  # (Chinese name, English name, province)
    ("浙江安护防护用品有限公司", "Zhejiang Anhu Protective Products Co., Ltd.", "33"),
    ("江苏康盾医疗器械有限公司", "Jiangsu Kangdun Medical Devices Co., Ltd.", "32"),
    ("广东洁思卫生材料有限公司", "Guangdong Jiesi Hygiene Materials Co., Ltd.", "44"),
    ("湖北卫达医用科技有限公司", "Hubei Weida Medical Technology Co., Ltd.", "42"),
    ("山东鲁净非织造材料有限公司", "Shandong Lujing Nonwovens Co., Ltd.", "37"),
    ("福建闽安健康科技有限公司", "Fujian Min'an Health Technology Co., Ltd.", "35"),
    ("上海申测电子仪器有限公司", "Shanghai Shence Electronic Instruments Co., Ltd.", "31"),
    ("北京京呼医疗设备有限公司", "Beijing Jinghu Medical Equipment Co., Ltd.", "11"),
]
TRADER = ("深圳前海华贸进出口有限公司", "Shenzhen Qianhai Huamao Import & Export Co., Ltd.", "44")
SUSPEND_REASON = "监督抽样不合格 / Failed surveillance sampling"
WITHDRAW_REASON = "持证人申请注销 / Withdrawn at the holder's request"
REVOKE_REASON = "演示:密钥疑似泄露 / Demo: key suspected compromised"


@dataclass(frozen=True)
class DemoCertificate:
    """One demo certificate and its seal; ``expected`` is its verdict code when loaded."""

    scenario: str
    body_code: str
    number: str
    category: str
    jurisdiction: str
    kid: str
    token: str
    expected: str


@dataclass
class DemoCertificatesSummary:
    created: bool
    message: str
    certificates: list[DemoCertificate] = field(default_factory=list)

    @property
    def by_scenario(self) -> Counter[str]:
        return Counter(c.scenario for c in self.certificates)

    def sample(self, scenario: str = "valid") -> DemoCertificate | None:
        return next((c for c in self.certificates if c.scenario == scenario), None)


@dataclass
class _Choice:
    scenario: str
    body: Body
    line: Authorization
    issue: dt.date
    expiry: dt.date
    lab_code: str | None


def _covering_lab(labs: list[Body], category: str, day: dt.date, skip: int) -> str | None:
    listed = [
        lab.code
        for lab in labs
        if any(a.category == category and authorization_status_on(a, day) == "active"
               for a in lab.authorizations)
    ]
    return listed[skip % len(listed)] if listed else None


def _choose(bodies: list[Body], labs: list[Body], today: dt.date) -> list[_Choice]:
    """Pick a (body, line) for each PLAN entry whose verdict will be the scenario's."""
    choices: list[_Choice] = []
    used: Counter[str] = Counter()
    for index, (scenario, category, jurisdiction, age, validity) in enumerate(PLAN):
        issue = today - dt.timedelta(days=age)
        best: tuple[int, Body, Authorization] | None = None
        for body in bodies:
            if (body.code == WITHDRAWN_BODY) != (scenario == "body_ended"):
                continue
            for line in body.authorizations:
                if (category or line.category, jurisdiction or line.jurisdiction) != (
                    line.category, line.jurisdiction
                ):
                    continue
                facts = authorization_facts(
                    lines_from_rows([a for a in body.authorizations if a.category == line.category
                                     and a.jurisdiction == line.jurisdiction]),
                    line.category, line.jurisdiction, issue, today,
                )
                ended = facts.ended_on is not None
                if authorization_status_on(line, issue) != "active" or ended != (scenario == "body_ended"):
                    continue
                if best is None or used[body.code] < best[0]:  # spread over the bodies
                    best = (used[body.code], body, line)
        if best is None:
            continue  # the demo registry lacks such a line (not with the shipped seed)
        _, body, line = best
        used[body.code] += 1
        report_day = issue - dt.timedelta(days=21)
        choices.append(_Choice(scenario, body, line, issue, issue + dt.timedelta(days=validity),
                               _covering_lab(labs, line.category, report_day, index)))
    return choices


def _party(maker: tuple[str, str, str]) -> PartyInput:
    name_zh, name_en, province = maker
    # Seeded by the name: the same organization always gets the same code.
    return PartyInput(name_zh=name_zh, name_en=name_en,
                      credit_code=demo_credit_code(random.Random(name_en), province, False))


def _input(rng: random.Random, choice: _Choice, serial: int) -> CertificateInput:
    maker = MAKERS[serial % len(MAKERS)]
    holder = TRADER if serial % 5 == 4 else maker  # some certificates are held by an exporter
    product, models = PRODUCTS[choice.line.category]
    reports = []
    if choice.lab_code is not None:
        reports.append(TestReportInput(
            choice.lab_code, f"{choice.lab_code}-R{choice.issue:%y%m}{rng.randint(100, 999)}",
            choice.issue - dt.timedelta(days=21),
        ))
    return CertificateInput(
        number=f"{choice.body.code.replace('-', '')}{choice.issue:%Y%m}{serial:03d}",
        holder=_party(holder),
        manufacturer=_party(maker),
        category=choice.line.category,
        jurisdiction=choice.line.jurisdiction,
        scheme=choice.line.scheme,
        product_name=product,
        models=models,
        standards=";".join(choice.line.standards.split(";")[:2]),
        issue_date=choice.issue,
        expiry_date=choice.expiry,
        test_reports=reports,
    )


def load_demo_certificates(session: Session, now: dt.datetime, passphrase: bytes) -> DemoCertificatesSummary:
    """Add the demo keys and certificates with their seals; do nothing if the registry holds no
    demo bodies, or already holds certificates or seal keys. Flushes, never commits."""
    if session.scalar(select(Body.id).where(Body.code == WITHDRAWN_BODY)) is None:
        return DemoCertificatesSummary(False, "no demo bodies; demo certificates not loaded")
    if session.scalar(select(Certificate.id).limit(1)) is not None:
        return DemoCertificatesSummary(
            False, "the registry already holds certificates; demo certificates not loaded"
        )
    if session.scalar(select(SigningKeyRecord.id).where(SigningKeyRecord.purpose == "seal").limit(1)):
        return DemoCertificatesSummary(False, "seal keys already exist; demo certificates not loaded")
    today = registry_today(now)
    ids = list(session.scalars(select(Body.id).where(Body.kind.in_(
        [BodyKind.CERTIFICATION_BODY.value, BodyKind.TESTING_LAB.value])).order_by(Body.code)))
    loaded = load_bodies(session, ids)
    bodies = [b for b in loaded if b.kind == BodyKind.CERTIFICATION_BODY.value]
    labs = [b for b in loaded if b.kind == BodyKind.TESTING_LAB.value]
    rng = random.Random(SEED)
    registered = [
        (choice, register_certificate(session, choice.body.code, _input(rng, choice, serial),
                                      actor=ACTOR, now=now))
        for serial, choice in enumerate(_choose(bodies, labs, today), start=1)
    ]
    for purpose in ("root", "log"):  # trust bundles; the log's checkpoints (GET /log/checkpoint)
        if keystore.active_record(session, purpose) is None:
            keystore.generate_key(session, purpose, passphrase, actor=ACTOR, now=now)

    def seal_all(scenarios: set[str]) -> dict[int, Seal]:
        return {
            certificate.id: seals.issue_seal(
                session, certificate, now=now, passphrase=passphrase, actor=ACTOR
            )
            for choice, certificate in registered
            if choice.scenario in scenarios
        }

    keystore.generate_key(session, "seal", passphrase, actor=ACTOR, now=now)
    issued = seal_all({"retired_key"})
    keystore.rotate_key(session, "seal", passphrase, actor=ACTOR, now=now)
    issued |= seal_all({"revoked_key"})
    second = keystore.active_record(session, "seal")
    assert second is not None
    keystore.revoke_key(session, second.kid, REVOKE_REASON, actor=ACTOR, now=now)
    keystore.generate_key(session, "seal", passphrase, actor=ACTOR, now=now)
    issued |= seal_all(set(EXPECTED) - {"retired_key", "revoked_key"})
    for choice, certificate in registered:
        if choice.scenario in ("suspended", "withdrawn"):
            change_certificate_status(
                session, choice.body.code, certificate.number, choice.scenario,
                reason=SUSPEND_REASON if choice.scenario == "suspended" else WITHDRAW_REASON,
                actor=ACTOR, now=now,
            )
    certificates = [
        DemoCertificate(
            scenario=choice.scenario, body_code=choice.body.code, number=certificate.number,
            category=certificate.category, jurisdiction=certificate.jurisdiction,
            kid=issued[certificate.id].kid, token=issued[certificate.id].token,
            expected=EXPECTED[choice.scenario],
        )
        for choice, certificate in registered
    ]
    return DemoCertificatesSummary(True, "demo certificates loaded", certificates)
