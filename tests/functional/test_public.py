"""The public lists and body page through the test client: filters, as-of dates, pages, history."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import io
import re
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from app import create_app
from registry.authorizations import change_status
from registry.bodies import BodyInput, create_body
from tests.factories import credit_code, grant, make_body

SECRET_ACTOR = "ops-account-7f3e"


class MemoryBytecodeCache(BytecodeCache):
    """Compiled templates kept across tests (keyed by source checksum, so edits still show)."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = MemoryBytecodeCache()


@pytest.fixture
def app(app_config: dict[str, object]) -> Flask:
    """The conftest app, but with templates compiled once per run instead of once per test."""
    flask_app = create_app(app_config)
    flask_app.jinja_env.bytecode_cache = TEMPLATE_CACHE
    return flask_app


@dataclass
class Registry:
    codes: dict[str, str]


@pytest.fixture
def registry(session: Session, now: dt.datetime) -> Registry:
    """Six bodies covering kinds, provinces, jurisdictions, categories and every status."""
    bj = make_body(session, now, code="BJ-1", name_zh="北京口罩认证中心", name_en="Beijing Mask Centre",
                   province="11", identifiers={"cnas": "CNAS C001-P"})
    grant(session, now, bj, category="mask")
    bj2 = make_body(session, now, code="BJ-2", name_zh="北京呼吸机认证所",
                    name_en="Beijing Ventilator Office", province="11")
    line = grant(session, now, bj2, category="ventilator")
    change_status(session, line.id, "suspended", reason="surveillance audit found forged test reports",
                  actor=SECRET_ACTOR, now=now, effective=dt.date(2026, 5, 1))
    sh = make_body(session, now, code="SH-1", name_zh="上海防护服认证中心", name_en="Shanghai Garment Centre",
                   province="31")
    grant(session, now, sh, category="protective_clothing")
    old = make_body(session, now, code="OLD-1", name_zh="江苏旧认证中心", name_en="Jiangsu Former Centre",
                    province="32")
    grant(session, now, old, category="mask", valid_until=dt.date(2022, 12, 31))
    eu = make_body(session, now, code="EU-1", name_zh="欧洲公告机构", name_en="European Notified Body",
                   province=None)
    grant(session, now, eu, category="mask", jurisdiction="EU", scheme="Regulation (EU) 2016/425")
    lab = make_body(session, now, code="LAB-1", kind="testing_lab", name_zh="广东检测所",
                    name_en="Guangdong Testing Institute", province="44")
    grant(session, now, lab, category="test_reagent")
    session.commit()
    return Registry({b.code: b.organization.credit_code or "" for b in (bj, bj2, sh, old, eu, lab)})


RESULT_LINK = re.compile(r'<td class="nowrap"><a href="/bodies/([^"?]+)')


def listed(client: FlaskClient, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return RESULT_LINK.findall(response.get_data(as_text=True))


def page_html(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def test_each_list_shows_its_own_kinds(client, registry) -> None:  # type: ignore[no-untyped-def]
    assert sorted(listed(client, "/bodies?lang=en")) == ["BJ-1", "BJ-2", "EU-1", "OLD-1", "SH-1"]
    assert listed(client, "/labs?lang=en") == ["LAB-1"]


FILTER_CASES = [
    ("category=ventilator", ["BJ-2"]),
    ("category=mask", ["BJ-1", "EU-1", "OLD-1"]),
    ("jurisdiction=EU", ["EU-1"]),
    ("province=11", ["BJ-1", "BJ-2"]),
    ("province=11&category=mask", ["BJ-1"]),
    ("status=suspended", ["BJ-2"]),
    ("status=expired", ["OLD-1"]),
    ("status=active&category=mask", ["BJ-1", "EU-1"]),
    ("kind=inspection_body", []),
    ("category=meltblown", []),
    ("category=&province=&status=", ["BJ-1", "BJ-2", "EU-1", "OLD-1", "SH-1"]),  # a form's "Any"
]
SEARCH_CASES = [
    ("beijing", ["BJ-1", "BJ-2"]),
    ("MASK centre", ["BJ-1"]),
    ("口罩认证", ["BJ-1"]),
    ("c001-p", ["BJ-1"]),
    ("sh-1", ["SH-1"]),
    ("100%", []),
    ("_", []),
]


def test_each_filter_narrows_the_list(client, registry) -> None:  # type: ignore[no-untyped-def]
    # One test for all cases: building the registry costs more than the requests.
    found = {query: sorted(listed(client, f"/bodies?lang=en&{query}")) for query, _expected in FILTER_CASES}
    assert found == dict(FILTER_CASES)


def test_text_search_matches_names_codes_and_identifiers(client, registry) -> None:  # type: ignore[no-untyped-def]
    found = {text: sorted(listed(client, "/bodies?" + urlencode({"q": text}))) for text, _ in SEARCH_CASES}
    assert found == dict(SEARCH_CASES)


def test_text_search_finds_the_credit_code(client, registry) -> None:  # type: ignore[no-untyped-def]
    assert listed(client, f"/bodies?q={registry.codes['SH-1']}") == ["SH-1"]


def test_as_of_shows_the_list_on_an_earlier_date(client, registry) -> None:  # type: ignore[no-untyped-def]
    # OLD-1 expired at the end of 2022 and BJ-2 was suspended in May 2026.
    assert "OLD-1" not in listed(client, "/bodies?status=active")
    before = page_html(client, "/bodies?lang=en&status=active&as_of=2021-06-01")
    assert sorted(RESULT_LINK.findall(before)) == ["BJ-1", "BJ-2", "EU-1", "OLD-1", "SH-1"]
    assert "4 found" not in before and "5 found, as of 2021-06-01" in before
    # Rows link to the body page on the same date.
    assert 'href="/bodies/OLD-1?as_of=2021-06-01&amp;lang=en"' in before
    assert listed(client, "/bodies?status=suspended&as_of=2026-04-30") == []


def test_rows_link_to_the_body_page(client, registry) -> None:  # type: ignore[no-untyped-def]
    html = page_html(client, "/bodies?province=31")
    assert '<a href="/bodies/SH-1" class="body-name">上海防护服认证中心</a>' in html


def _links(html: str, rel: str) -> list[str]:
    return [html_lib.unescape(h) for h in re.findall(rf'<a rel="{rel}" href="([^"]+)"', html)]


def test_pager_links_keep_the_filters(client, registry) -> None:  # type: ignore[no-untyped-def]
    first = page_html(client, "/bodies?category=mask&per_page=2&lang=en&q=e")
    assert "Page 1 of 2" in first
    assert len(RESULT_LINK.findall(first)) == 2
    assert _links(first, "prev") == []
    [next_url] = _links(first, "next")
    assert next_url.startswith("/bodies?")
    for part in ("category=mask", "per_page=2", "lang=en", "q=e", "page=2"):
        assert part in next_url
    second = page_html(client, next_url)
    assert "Page 2 of 2" in second
    assert len(RESULT_LINK.findall(second)) == 1
    assert set(RESULT_LINK.findall(first)).isdisjoint(RESULT_LINK.findall(second))
    [prev_url] = _links(second, "prev")
    assert "page=1" in prev_url and "category=mask" in prev_url and "per_page=2" in prev_url
    assert _links(second, "next") == []


def test_a_page_past_the_end_says_so(client, registry) -> None:  # type: ignore[no-untyped-def]
    html = page_html(client, "/bodies?lang=en&page=9")
    assert "There is no page 9; the last page is 1." in html


def test_export_links_on_the_list_carry_the_filters(client, registry) -> None:  # type: ignore[no-untyped-def]
    html = page_html(client, "/bodies?category=mask&province=11&page=1")
    hrefs = [html_lib.unescape(h) for h in re.findall(r'href="(/bodies/export\.[a-z]+\?[^"]*)"', html)]
    assert len(hrefs) == 3
    for href in hrefs:
        assert "category=mask" in href and "province=11" in href


def test_body_page_shows_identity_scope_and_history(client, registry) -> None:  # type: ignore[no-untyped-def]
    html = page_html(client, "/bodies/BJ-2?lang=en")
    assert "<h1>Beijing Ventilator Office</h1>" in html
    assert registry.codes["BJ-2"] in html
    scope = html.split('id="scope"')[1].split("</table>")[0]
    assert "Ventilators" in scope and "China (domestic)" in scope and "GB 2626-2019" in scope
    assert '<span class="status status-suspended">Suspended</span>' in scope
    history = html.split('id="status-history"')[1].split("</table>")[0]
    assert "surveillance audit found forged test reports" in history
    assert "2026-05-01" in history and "designated by CNCA" in history
    changes = html.split('id="history"')[1].split("</table>")[0]
    assert "Scope suspended" in changes and "Scope granted" in changes and "Body added" in changes
    assert "effective 2026-05-01" in changes


def test_the_actor_is_never_shown_publicly(client, registry) -> None:  # type: ignore[no-untyped-def]
    for lang in ("en", "zh"):
        assert SECRET_ACTOR not in page_html(client, f"/bodies/BJ-2?lang={lang}")


def test_body_page_as_of_shows_the_status_on_that_date(client, registry) -> None:  # type: ignore[no-untyped-def]
    before = page_html(client, "/bodies/BJ-2?lang=en&as_of=2026-04-30")
    assert '<span class="status status-active" id="body-status">Active</span>' in before
    assert 'value="2026-04-30"' in before
    now = page_html(client, "/bodies/BJ-2?lang=en")
    assert '<span class="status status-suspended" id="body-status">Suspended</span>' in now
    expired = page_html(client, "/bodies/OLD-1?lang=en")
    assert '<span class="status status-expired" id="body-status">Expired</span>' in expired
    future = page_html(client, "/bodies/OLD-1?lang=en&as_of=2020-01-01")
    assert "Not yet valid" in future


def test_body_page_shows_identifiers_and_the_credit_code_warning(client, session, now) -> None:  # type: ignore[no-untyped-def]
    good = credit_code(9001)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    for code, credit in (("GOOD-1", good), ("BAD-1", bad)):
        create_body(session, BodyInput(code=code, kind="certification_body", name_zh=code, credit_code=credit,
                                       website="javascript:alert(1)", identifiers={"cnca": "CNCA-R-2002-001"}
                                       if code == "GOOD-1" else {}), actor="test", now=now)
    session.commit()
    good_html = page_html(client, "/bodies/GOOD-1?lang=en")
    assert "CNCA approval number" in good_html and "CNCA-R-2002-001" in good_html
    assert 'id="credit-code-warning"' not in good_html
    bad_html = page_html(client, "/bodies/BAD-1?lang=zh")
    assert 'id="credit-code-warning"' in bad_html and "校验码与 GB 32100-2015 不符" in bad_html
    # A stored website that is not a web address is shown as text, never as a link.
    assert 'href="javascript:' not in good_html and "javascript:alert(1)" in good_html


def test_an_unknown_body_is_a_404_page(client, registry) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/bodies/NO-SUCH-BODY")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "404 · 未找到" in html and "NO-SUCH-BODY" in html
    english = client.get("/bodies/NO-SUCH-BODY?lang=en").get_data(as_text=True)
    assert "The page or record you asked for does not exist." in english


MALFORMED = [
    ("as_of=2026-13-01", "“2026-13-01” is not a date between 2000-01-01 and 2100-01-01"),
    ("as_of=1999-12-31", "“1999-12-31” is not a date"),
    ("as_of=yesterday", "“yesterday” is not a date"),
    ("category=gloves", "“gloves” is not a known product category."),
    ("jurisdiction=XX", "“XX” is not a known jurisdiction."),
    ("province=99", "“99” is not a known province code."),
    ("status=revoked", "“revoked” is not a status"),
    ("q=" + "x" * 101, "The search text must have 1 to 100 characters."),
    ("sort=name", "“sort” is not a filter of this page."),
    ("lang=fr", "“fr” is not a language"),
]
# The pager's parameters only matter on the pages; an export holds every match and ignores them.
MALFORMED_PAGER = [
    ("page=abc", "“abc” is not a page number"),
    ("page=0", "“0” is not a page number"),
    ("per_page=500", "“500” is not a page size"),
]


@pytest.mark.parametrize(
    ("path", "cases"),
    [("/bodies", MALFORMED + MALFORMED_PAGER), ("/labs", MALFORMED + MALFORMED_PAGER),
     ("/bodies/export.csv", MALFORMED), ("/labs/export.xlsx", MALFORMED)],
)
def test_a_malformed_filter_reshows_the_list_with_a_message(client, path, cases) -> None:  # type: ignore[no-untyped-def]
    for query, message in cases:
        response = client.get(f"{path}?{query}", headers={"Accept-Language": "en"})
        assert response.status_code == 422, query
        assert response.mimetype == "text/html", query
        html = html_lib.unescape(response.get_data(as_text=True))
        assert 'id="filter-problems"' in html and message in html, query
        assert 'id="filters"' in html, query  # the form is there to correct the mistake
        assert 'id="results"' not in html, query


def test_every_problem_is_listed_in_the_readers_language(client, registry) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/bodies?as_of=2026-02-30&page=abc&foo=1")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "部分筛选条件无效" in html
    assert "“2026-02-30”不是" in html and "“abc”不是有效的页码" in html and "“foo”不是本页的筛选条件" in html


def test_a_kind_from_the_other_list_is_refused(client, registry) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/labs?lang=en&kind=certification_body")
    assert response.status_code == 422
    assert "is not a kind of body listed on this page" in html_lib.unescape(response.get_data(as_text=True))


def test_a_malformed_date_on_the_body_page_falls_back_to_today_with_a_message(client, registry) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/bodies/BJ-2?lang=en&as_of=2026-99-99&x=1")
    assert response.status_code == 422
    html = html_lib.unescape(response.get_data(as_text=True))
    assert "“2026-99-99” is not a date" in html and "“x” is not a filter of this page." in html
    assert "as of 2026-06-15" in html and 'id="scope"' in html


def test_user_input_is_escaped(client, registry) -> None:  # type: ignore[no-untyped-def]
    html = page_html(client, "/bodies?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


EXPORTS = [
    ("/bodies/export.csv", "certification-bodies-2026-06-15.csv", "text/csv"),
    ("/bodies/export.xlsx", "certification-bodies-2026-06-15.xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("/bodies/export.json", "certification-bodies-2026-06-15.json", "application/json"),
    ("/labs/export.csv", "testing-labs-2026-06-15.csv", "text/csv"),
    ("/bodies/export.json?as_of=2021-06-01", "certification-bodies-2021-06-01.json", "application/json"),
]


def test_exports_have_the_right_type_and_filename(client, registry) -> None:  # type: ignore[no-untyped-def]
    for path, filename, mimetype in EXPORTS:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == mimetype, path
        assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    csv_type = client.get("/labs/export.csv").headers["Content-Type"]
    assert csv_type.replace(" ", "").lower() == "text/csv;charset=utf-8"
    workbook = load_workbook(io.BytesIO(client.get("/labs/export.xlsx").get_data()), read_only=True)
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "body_code" and [row[0] for row in rows[1:]] == ["LAB-1"]


def test_exports_contain_the_filtered_rows(client, registry) -> None:  # type: ignore[no-untyped-def]
    csv_text = client.get("/bodies/export.csv?province=11&page=2&lang=en").get_data().decode("utf-8")
    assert csv_text.startswith("\ufeffbody_code,")
    assert "BJ-1," in csv_text and "BJ-2," in csv_text and "SH-1," not in csv_text
    data = client.get("/labs/export.json").get_json()
    assert data["as_of"] == "2026-06-15"
    assert [row["body_code"] for row in data["items"]] == ["LAB-1"]
    old = client.get("/bodies/export.json?as_of=2021-06-01&category=mask&jurisdiction=CN").get_json()
    assert {row["body_code"]: row["status"] for row in old["items"]} == {"BJ-1": "active", "OLD-1": "active"}


def test_an_unknown_export_format_is_a_404(client, registry) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/bodies/export.pdf").status_code == 404


def test_the_home_page_links_to_the_lists_and_categories(client, registry) -> None:  # type: ignore[no-untyped-def]
    html = page_html(client, "/?lang=en")
    assert 'href="/bodies"' in html and 'href="/labs"' in html
    assert 'href="/bodies?category=mask"' in html and "Masks (medical masks and respirators)" in html
