"""The registry the API tests read, built through the real services, and a check of its premises.

Today is 2026-06-15 (tests.conftest.NOW). Ordered as the API lists them (province, then code):

=============  ===  ==================================================================================
code           pr.  lines
=============  ===  ==================================================================================
API-CB-ACTIVE  11   mask/CN/CCC 2020-03-01..2030-03-01 active; protective_clothing/EU 2021-01-01.. active
API-CB-FUTURE  11   mask/CN/CCC from 2027-01-01 (so absent from today's list)
API-CB-SUSP    31   mask/CN/CCC 2020-03-01..2030-03-01, suspended from 2026-05-01
API-CB-WDRN    44   ventilator/CN/CCC 2020-03-01..2030-03-01, withdrawn from 2021-01-01
API-LAB-1      44   testing lab: ir_thermometer/CN/CMA 2020-06-01..2025-12-31 (expired now);
                    test_reagent/EU/IVDR 2021-01-01.. active
=============  ===  ==================================================================================
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from registry.authorizations import change_status
from registry.models import Body
from registry.queries import body_status_on
from tests.factories import grant, make_body

TODAY = dt.date(2026, 6, 15)
SUSPENDED_ON = dt.date(2026, 5, 1)
WITHDRAWN_ON = dt.date(2021, 1, 1)
SUSPENSION_REASON = "surveillance audit failed"


@dataclass
class Sample:
    active: Body
    future: Body
    suspended: Body
    withdrawn: Body
    lab: Body

    @property
    def listed_today(self) -> list[str]:
        """Codes of today's unfiltered list, in the API's order."""
        return [b.code for b in (self.active, self.suspended, self.withdrawn, self.lab)]


def build_sample(session: Session, now: dt.datetime) -> Sample:
    """Create the sample registry and commit it (to the test's savepoint) so the app sees it."""
    active = make_body(
        session, now, code="API-CB-ACTIVE", name_zh="北京防疫认证中心",
        name_en="Beijing Epidemic Certification Centre", province="11",
        identifiers={"cnca": "CNCA-R-2002-001"},
    )
    grant(session, now, active)
    grant(
        session, now, active, category="protective_clothing", jurisdiction="EU",
        scheme="Regulation (EU) 2016/425", valid_from=dt.date(2021, 1, 1), valid_until=None,
    )
    future = make_body(
        session, now, code="API-CB-FUTURE", name_zh="北京未来认证中心", name_en="Future Certification",
        province="11",
    )
    grant(session, now, future, valid_from=dt.date(2027, 1, 1), valid_until=None)
    suspended = make_body(
        session, now, code="API-CB-SUSP", name_zh="上海口罩认证有限公司",
        name_en="Shanghai Mask Certification Co", province="31", identifiers={"cnca": "CNCA-R-2003-002"},
    )
    line = grant(session, now, suspended)
    change_status(
        session, line.id, "suspended", reason=SUSPENSION_REASON, actor="inspector-7", now=now,
        effective=SUSPENDED_ON,
    )
    withdrawn = make_body(
        session, now, code="API-CB-WDRN", name_zh="广东呼吸机检验认证中心",
        name_en="Guangdong Ventilator Certification", province="44",
    )
    line = grant(session, now, withdrawn, category="ventilator")
    change_status(
        session, line.id, "withdrawn", reason="designation revoked", actor="inspector-7", now=now,
        effective=WITHDRAWN_ON,
    )
    lab = make_body(
        session, now, code="API-LAB-1", kind="testing_lab", name_zh="深圳红外体温检测实验室",
        name_en="Shenzhen Thermometer Testing Lab", province="44", identifiers={"cnas": "CNAS L1234"},
    )
    grant(
        session, now, lab, category="ir_thermometer", scheme="CMA",
        valid_from=dt.date(2020, 6, 1), valid_until=dt.date(2025, 12, 31),
    )
    grant(
        session, now, lab, category="test_reagent", jurisdiction="EU", scheme="IVDR 2017/746",
        valid_from=dt.date(2021, 1, 1), valid_until=None,
    )
    session.commit()
    return Sample(active=active, future=future, suspended=suspended, withdrawn=withdrawn, lab=lab)


def test_sample_statuses_are_what_the_api_tests_assume(session: Session, now: dt.datetime) -> None:
    sample = build_sample(session, now)
    assert now.date() == TODAY
    assert body_status_on(sample.active, TODAY) == "active"
    assert body_status_on(sample.future, TODAY) is None
    assert body_status_on(sample.suspended, TODAY) == "suspended"
    assert body_status_on(sample.suspended, SUSPENDED_ON - dt.timedelta(days=1)) == "active"
    assert body_status_on(sample.withdrawn, TODAY) == "withdrawn"
    assert body_status_on(sample.lab, TODAY) == "active"
