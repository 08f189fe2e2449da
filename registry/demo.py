"""Demo data: a realistic, deterministic registry built through the real services.

Every name, credit code and identifier here is invented for demonstration: any likeness to a
real body is accidental. The data are built with the same services an admin uses, so every
body, scope line and status change has its audit event. Status history is back-dated through
effective dates, but each audit event is recorded at ``now``: that is when it was entered.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.authorizations import AuthorizationInput, change_body_status, change_status, grant_authorization
from registry.bodies import BodyInput, create_body
from registry.identifiers import USCC_ALPHABET, uscc_check_character
from registry.models import AuditEvent, Body, BodyKind
from registry.reference import category_rows, provinces, sync_reference_data

SEED = 20200130  # fixed: the same ``now`` always yields the same registry
ACTOR = "demo"
CB, LAB, IB = (BodyKind.CERTIFICATION_BODY.value, BodyKind.TESTING_LAB.value, BodyKind.INSPECTION_BODY.value)
DOMESTIC_COUNTS = {CB: 26, LAB: 24, IB: 5}
# Mainland provinces only: Hong Kong, Macao and Taiwan do not issue GB 32100 codes.
DEMO_PROVINCES = [code for code in provinces() if int(code) < 70]
CATEGORIES = [row["category"] for row in category_rows()]

BRANDS = [
    ("国医械华光", "Guoyixie Huaguang"), ("正源", "Zhengyuan"), ("泰和", "Taihe"), ("博远", "Boyuan"),
    ("恒标", "Hengbiao"), ("安鉴", "Anjian"), ("信衡", "Xinheng"), ("明鉴", "Mingjian"),
    ("卓检", "Zhuojian"), ("国衡", "Guoheng"), ("华准", "Huazhun"), ("中衡", "Zhongheng"),
    ("启诚", "Qicheng"), ("瑞标", "Ruibiao"), ("嘉信", "Jiaxin"), ("德衡", "Deheng"),
    ("汇检", "Huijian"), ("宏鉴", "Hongjian"), ("睿诚", "Ruicheng"), ("鼎衡", "Dingheng"),
    ("联正", "Lianzheng"), ("远衡", "Yuanheng"), ("盛标", "Shengbiao"), ("同衡", "Tongheng"),
    ("蓝盾", "Landun"), ("清源", "Qingyuan"), ("天衡", "Tianheng"), ("众诚", "Zhongcheng"),
    ("昊检", "Haojian"), ("金鉴", "Jinjian"), ("立衡", "Liheng"), ("新标", "Xinbiao"),
    ("康检", "Kangjian"), ("佳衡", "Jiaheng"), ("永信", "Yongxin"), ("广衡", "Guangheng"),
    ("东鉴", "Dongjian"), ("南标", "Nanbiao"), ("北辰", "Beichen"), ("星检", "Xingjian"),
    ("云衡", "Yunheng"), ("海标", "Haibiao"), ("长信", "Changxin"), ("科鉴", "Kejian"),
    ("和正", "Hezheng"), ("弘检", "Hongjian Keji"), ("安卫", "Anwei"), ("洁康", "Jiekang"),
    ("健达", "Jianda"), ("医衡", "Yiheng"), ("捷测", "Jiece"), ("精准", "Jingzhun"),
    ("华卫", "Huawei Fanghu"), ("守正", "Shouzheng"), ("立德", "Lide"), ("诚鉴", "Chengjian"),
]
# (Chinese suffix, English suffix, public institution?) -- public institutions get "12" codes.
SUFFIXES = {
    CB: [("认证有限公司", "Certification Co., Ltd.", False),
         ("质量认证中心", "Quality Certification Centre", False),
         ("医疗器械认证有限公司", "Medical Device Certification Co., Ltd.", False)],
    LAB: [("检测技术有限公司", "Testing Technology Co., Ltd.", False),
          ("检验检测研究院", "Inspection and Testing Institute", True),
          ("医疗器械检验所", "Medical Device Testing Institute", True),
          ("纺织品检测中心", "Textile Testing Centre", False)],
    IB: [("检验有限公司", "Inspection Co., Ltd.", False),
         ("商品检验鉴定有限公司", "Commodity Inspection and Survey Co., Ltd.", False)],
}
FOREIGN = [  # (country, kind, code, name_zh, name_en, identifiers, jurisdiction)
    ("DE", CB, "NB-2961", "汉萨检验认证有限公司", "Hanseatische Prüf- und Zertifizierungs GmbH",
     {"eu_nb": "2961"}, "EU"),
    ("FR", CB, "NB-2974", "里昂医疗器械认证局", "Bureau Lyonnais de Certification Médicale SAS",
     {"eu_nb": "2974"}, "EU"),
    ("IT", CB, "NB-2987", "艾米利亚认证研究所", "Istituto Emiliano di Certificazione S.r.l.",
     {"eu_nb": "2987"}, "EU"),
    ("GB", CB, "UKAB-8512", "泰晤士河谷合格评定有限公司", "Thames Valley Conformity Assessment Ltd",
     {"other": "UK Approved Body 8512"}, "UK"),
    ("US", LAB, "US-LAB-001", "五大湖呼吸防护检测实验室", "Great Lakes Respirator Testing Laboratory, Inc.",
     {"niosh": "TC-84A-9421"}, "US"),
]
SCHEMES = {
    ("EU", "mask"): "Regulation (EU) 2016/425 (PPE)",
    ("EU", "protective_clothing"): "Regulation (EU) 2016/425 (PPE)",
    ("EU", "ventilator"): "Regulation (EU) 2017/745 (MDR)",
    ("EU", "ir_thermometer"): "Regulation (EU) 2017/745 (MDR)",
    ("EU", "test_reagent"): "Regulation (EU) 2017/746 (IVDR)",
    ("UK", "mask"): "UKCA: PPE Regulation 2016/425 as it applies in GB",
    ("UK", "protective_clothing"): "UKCA: PPE Regulation 2016/425 as it applies in GB",
    ("UK", "ventilator"): "UK Medical Devices Regulations 2002",
    ("UK", "ir_thermometer"): "UK Medical Devices Regulations 2002",
    ("US", "mask"): "42 CFR Part 84 (NIOSH)",
    ("US", "protective_clothing"): "FDA 510(k) third-party review",
    ("US", "ventilator"): "FDA 510(k) third-party review",
    ("US", "ir_thermometer"): "FDA 510(k) third-party review",
    ("US", "test_reagent"): "FDA Emergency Use Authorization testing",
}
CN_SCHEMES = {CB: "CNCA voluntary product certification", IB: "Export quality inspection (GACC)"}
CN_LAB_SCHEMES = {"ventilator": "NMPA registration testing", "ir_thermometer": "NMPA registration testing",
                  "test_reagent": "NMPA registration testing"}
# Which international standards suit which jurisdiction (matched by substring).
STANDARD_MARKERS = {
    "EU": ("EN ", "ISO", "EU "), "UK": ("EN ", "ISO"), "US": ("CFR", "ASTM", "AAMI", "FDA", "ISO"),
}
TESTS = {
    "mask": "Particle filtration efficiency; Breathing resistance; Bacterial filtration efficiency (BFE); "
            "Synthetic blood penetration; Microbial limits",
    "protective_clothing": "Liquid penetration resistance; Surface moisture resistance; Breaking strength; "
                           "Filtration efficiency of the fabric; Antistatic performance",
    "ventilator": "Electrical safety; Electromagnetic compatibility; Tidal volume accuracy; "
                  "Alarm system tests",
    "ir_thermometer": "Laboratory accuracy (35.0-42.0 °C); Repeatability; Clinical accuracy; "
                      "Electromagnetic compatibility",
    "test_reagent": "Limit of detection; Analytical specificity and cross-reactivity; Precision; "
                    "Clinical performance evaluation",
    "meltblown": "Filtration efficiency (NaCl aerosol); Air-flow resistance; Mass per unit area; "
                 "Electret charge retention",
}
GRANT_REASONS = {
    "CN": "CNCA 批准指定 / Designated by CNCA",
    "EU": "NANDO 公告 / Notified in NANDO",
    "UK": "英国批准机构指定 / UK approved body designation",
    "US": "美国主管机关认可 / Recognised by the US authority",
}
SUSPEND_REASONS = [
    "监督抽查发现不合格 / Failed market surveillance sampling",
    "未按期提交年度监督报告 / Annual surveillance report overdue",
    "关键技术人员变更待确认 / Change of key technical staff under review",
]
WITHDRAW_REASONS = ["申请注销该范围 / Scope voluntarily relinquished", "复评审不通过 / Failed re-assessment"]
RESTORE_REASON = "整改完成,经复核恢复 / Corrective actions verified; restored"
BODY_WITHDRAW_REASON = "指定被撤销 / Designation revoked after a supervision inspection"
# How many scope lines get each history; the rest stay active.
FATES = {"suspended": 8, "withdrawn": 4, "restored": 4, "expired": 5}
WITHDRAWN_BODY = "CB-008"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "敏", "静", "磊", "洋", "婷", "强", "军", "杰", "娜", "涛", "明", "晨", "雪"]
ROADS = ["科技路", "创新大道", "学院路", "工业园区东路", "高新区中心大道", "检测产业园"]


@dataclass
class DemoSummary:
    """What ``load_demo`` did: ``created`` is False when the registry already held bodies."""

    created: bool
    message: str
    bodies_by_kind: dict[str, int] = field(default_factory=dict)
    foreign_bodies: int = 0
    authorizations: int = 0
    status_changes: int = 0
    credit_code_warnings: int = 0
    audit_events: int = 0

    @property
    def bodies(self) -> int:
        return sum(self.bodies_by_kind.values())


@dataclass
class _LinePlan:
    data: AuthorizationInput
    fate: str = "active"


@dataclass
class _BodyPlan:
    data: BodyInput
    lines: list[_LinePlan] = field(default_factory=list)


def _gb11714_check(first8: str) -> str:
    """Check character of a GB 11714 organization code (digits only here)."""
    total = sum(int(ch) * w for ch, w in zip(first8, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def demo_credit_code(rng: random.Random, province: str, public_institution: bool) -> str:
    """A GB 32100 code with valid GB 11714 and GB 32100 check characters."""
    org = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = ("12" if public_institution else "91") + province + rng.choice(("0000", "0100")) + org
    first17 += _gb11714_check(org)
    return first17 + uscc_check_character(first17)


def _break_check(code: str) -> str:
    """The same code with a wrong GB 32100 check character (to show the warning)."""
    wrong = USCC_ALPHABET[(USCC_ALPHABET.index(code[17]) + 1) % len(USCC_ALPHABET)]
    return code[:17] + wrong


def _standards(jurisdiction: str, category: str) -> str:
    row = next(r for r in category_rows() if r["category"] == category)
    if jurisdiction == "CN":
        return row["standards_cn"]
    markers = STANDARD_MARKERS[jurisdiction]
    return ";".join(s for s in row["standards_international"].split(";") if any(m in s for m in markers))


def _line(rng: random.Random, kind: str, jurisdiction: str, category: str) -> AuthorizationInput:
    if jurisdiction == "CN":
        scheme = CN_LAB_SCHEMES.get(category, "CMA designated testing") if kind == LAB else CN_SCHEMES[kind]
    else:
        scheme = SCHEMES[(jurisdiction, category)]
    return AuthorizationInput(
        jurisdiction=jurisdiction,
        scheme=scheme,
        category=category,
        valid_from=dt.date(2020, 2, 1) + dt.timedelta(days=rng.randint(0, 1400)),
        standards=_standards(jurisdiction, category),
        tests=TESTS[category] if kind == LAB else "",
    )


def _domestic_identifiers(rng: random.Random, kind: str, province: str, used: set[str]) -> dict[str, str]:
    """CNCA/CNAS numbers for bodies, CNAS/CMA numbers for labs; ``used`` keeps them unique."""

    def unique(make: Callable[[], str]) -> str:
        while True:  # draw again on a (rare) collision: identifiers are unique per scheme
            value = make()
            if value not in used:
                used.add(value)
                return value

    if kind == CB:
        return {
            "cnca": unique(lambda: f"CNCA-R-{rng.randint(2002, 2021)}-{rng.randint(1, 199):03d}"),
            "cnas": unique(lambda: f"CNAS C{rng.randint(1, 299):03d}-{rng.choice('PM')}"),
        }
    if kind == LAB:
        return {
            "cnas": unique(lambda: f"CNAS L{rng.randint(1000, 19999)}"),
            # CMA numbers: two-digit year, the province, eight more digits.
            "cma": unique(lambda: f"{rng.randint(15, 23)}{province}{rng.randint(0, 99_999_999):08d}"),
        }
    return {"other": unique(lambda: f"CNAS IB{rng.randint(1, 999):04d}")}


def _domestic_plans(rng: random.Random) -> list[_BodyPlan]:
    plans: list[_BodyPlan] = []
    brands = iter(BRANDS)
    used: set[str] = set()

    for kind, count in DOMESTIC_COUNTS.items():
        prefix = {CB: "CB", LAB: "LAB", IB: "IB"}[kind]
        for n in range(1, count + 1):
            brand_zh, brand_en = next(brands)
            suffix_zh, suffix_en, public_institution = rng.choice(SUFFIXES[kind])
            national = kind == CB and n <= 2  # two national centres, seated in Beijing
            province = "11" if national else DEMO_PROVINCES[(n * 7 + len(plans)) % len(DEMO_PROVINCES)]
            place = provinces()[province]
            where_zh, where_en = ("中国", "China") if national else (place.name_zh, place.name_en)
            slug = brand_en.lower().replace(" ", "")
            plans.append(_BodyPlan(BodyInput(
                code=f"{prefix}-{n:03d}",
                kind=kind,
                name_zh=f"{where_zh}{brand_zh}{suffix_zh}",
                name_en=f"{where_en} {brand_en} {suffix_en}",
                credit_code=demo_credit_code(rng, province, public_institution),
                province=province,
                address=f"{place.name_zh}{rng.choice(ROADS)}{rng.randint(1, 399)}号",
                website=f"https://{slug}.example.com",
                contact_name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN]),
                contact_email=f"{'cert' if kind == CB else 'lab'}@{slug}.example.com",
                contact_phone=f"+86 {rng.randint(10, 999)} {rng.randint(10_000_000, 99_999_999)}",
                identifiers=_domestic_identifiers(rng, kind, province, used),
            )))
            categories = rng.sample(CATEGORIES, rng.randint(2, 4))
            plans[-1].lines = [_LinePlan(_line(rng, kind, "CN", c)) for c in categories]
            if kind == LAB and n % 3 == 0:  # export-oriented labs also test to foreign standards
                jurisdiction = ("EU", "US", "UK")[n % 9 // 3]
                category = "mask" if jurisdiction != "US" else rng.choice(["mask", "test_reagent"])
                plans[-1].lines.append(_LinePlan(_line(rng, kind, jurisdiction, category)))
    # One body carries a code whose check character fails: it loads with a warning.
    flawed = plans[DOMESTIC_COUNTS[CB] + 2].data
    flawed.credit_code = _break_check(flawed.credit_code or "")
    return plans


def _foreign_plans(rng: random.Random) -> list[_BodyPlan]:
    plans = []
    for country, kind, code, name_zh, name_en, identifiers, jurisdiction in FOREIGN:
        slug = code.lower()
        plan = _BodyPlan(BodyInput(
            code=code, kind=kind, name_zh=name_zh, name_en=name_en, country=country, province=None,
            website=f"https://{slug}.example.com", contact_email=f"office@{slug}.example.com",
            identifiers=dict(identifiers),
        ))
        categories = [c for c in CATEGORIES if (jurisdiction, c) in SCHEMES]
        if kind == LAB:  # the US lab tests respirators and reagents only
            categories = [c for c in categories if c in ("mask", "test_reagent")]
        plan.lines = [_LinePlan(_line(rng, kind, jurisdiction, c)) for c in categories]
        plans.append(plan)
    return plans


def _assign_fates(rng: random.Random, plans: list[_BodyPlan], today: dt.date) -> None:
    """Pick the lines that get a history, and set every line's validity window."""
    candidates = [line for plan in plans if plan.data.code != WITHDRAWN_BODY for line in plan.lines]
    rng.shuffle(candidates)
    start = 0
    for fate, count in FATES.items():
        for line in candidates[start : start + count]:
            line.fate = fate
        start += count
    latest_start = today - dt.timedelta(days=365)  # leaves room for a back-dated history
    for plan in plans:
        for line in plan.lines:
            line.data.valid_from = min(line.data.valid_from, latest_start)
            if line.fate == "expired":
                line.data.valid_until = today - dt.timedelta(days=rng.randint(20, 300))
            elif rng.random() < 0.1:
                line.data.valid_until = None  # open-ended designation
            else:
                line.data.valid_until = today + dt.timedelta(days=rng.randint(90, 1500))


def _apply_history(
    session: Session, rng: random.Random, plans: list[_BodyPlan], ids: dict[int, int], now: dt.datetime
) -> int:
    """Suspend, withdraw and restore the chosen lines, back-dated; return the number of changes."""
    today = now.date()
    changes = 0
    for plan in plans:
        for line in plan.lines:
            if line.fate not in ("suspended", "withdrawn", "restored"):
                continue
            span = (today - line.data.valid_from).days
            effective = line.data.valid_from + dt.timedelta(days=rng.randint(30, span // 2))
            first = "withdrawn" if line.fate == "withdrawn" else "suspended"
            reasons = WITHDRAW_REASONS if first == "withdrawn" else SUSPEND_REASONS
            change_status(session, ids[id(line)], first, reason=rng.choice(reasons),
                          actor=ACTOR, now=now, effective=effective)
            changes += 1
            if line.fate == "restored":
                later = effective + dt.timedelta(days=rng.randint(20, (today - effective).days - 1))
                change_status(session, ids[id(line)], "active", reason=RESTORE_REASON,
                              actor=ACTOR, now=now, effective=later)
                changes += 1
    withdrawn = change_body_status(session, WITHDRAWN_BODY, "withdrawn", reason=BODY_WITHDRAW_REASON,
                                   actor=ACTOR, now=now, effective=today - dt.timedelta(days=45))
    return changes + len(withdrawn)


def load_demo(session: Session, now: dt.datetime) -> DemoSummary:
    """Fill an empty registry with demo bodies, labs and history; do nothing if any body exists.

    Flushes, never commits: the caller owns the transaction.
    """
    if session.scalar(select(Body.id).limit(1)) is not None:
        return DemoSummary(created=False, message="the registry already holds bodies; demo data not loaded")
    sync_reference_data(session)
    events_before = session.scalar(select(func.count(AuditEvent.id))) or 0
    rng = random.Random(SEED)
    plans = _domestic_plans(rng) + _foreign_plans(rng)
    _assign_fates(rng, plans, now.date())
    summary = DemoSummary(created=True, message="demo data loaded")
    line_ids: dict[int, int] = {}
    for plan in plans:
        body = create_body(session, plan.data, actor=ACTOR, now=now)
        summary.bodies_by_kind[body.kind] = summary.bodies_by_kind.get(body.kind, 0) + 1
        summary.foreign_bodies += body.organization.country != "CN"
        summary.credit_code_warnings += body.organization.credit_code_warning is not None
        for line in plan.lines:
            reason = GRANT_REASONS[line.data.jurisdiction]
            granted = grant_authorization(session, body.code, line.data, actor=ACTOR, now=now, reason=reason)
            line_ids[id(line)] = granted.id
            summary.authorizations += 1
    summary.status_changes = _apply_history(session, rng, plans, line_ids, now)
    summary.audit_events = (session.scalar(select(func.count(AuditEvent.id))) or 0) - events_before
    return summary
