"""The public pages in a real headless Chromium against a real HTTP server.

Scenario: the list in Chinese, filter by category and province with the form, open a body,
see its scope, switch to English: headings and statuses in English, the date and filters kept.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.browser.live import LiveServer, live_server
from tests.conftest import private_postgres_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOT_DIR = Path("/tmp")
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM}: the browser test is skipped"
    ),
]


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """The app over HTTP on a free port, with its own committed database (SQLite file or PostgreSQL)."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'browser.sqlite3'}"
        else:
            url = stack.enter_context(private_postgres_database(os.environ["TEST_DATABASE_URL"]))
        yield stack.enter_context(live_server(url, tmp_path))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One Chromium for the module (launching it is the slowest step)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, server: LiveServer) -> Iterator[object]:  # type: ignore[no-untyped-def]
    # A fresh context per test (no cookies carried over); a Chinese-speaking visitor asks for zh-CN.
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _result_codes(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [text.strip() for text in page.locator("#results tbody tr td:first-child a").all_inner_texts()]


def test_filter_open_a_body_and_switch_language(server: LiveServer, page, request) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(f"{server.url}/bodies")
    expect(page.locator("h1")).to_have_text("认证机构")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    everything = _result_codes(page)
    assert {"CQC-BJ", "HD-CERT", "SH-CERT", "JS-CERT"} <= set(everything)
    assert "GD-LAB" not in everything  # labs have their own list

    # Filter with the form: masks in Beijing, as of a date before HD-CERT's mask scope was suspended.
    page.select_option("select[name=category]", "mask")
    page.select_option("select[name=province]", "11")
    page.fill("input[name=as_of]", "2026-05-01")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"/bodies\?.*category=mask"))
    assert "province=11" in page.url and "as_of=2026-05-01" in page.url
    assert sorted(_result_codes(page)) == ["CQC-BJ", "HD-CERT"]
    expect(page.locator("#result-count")).to_contain_text("共 2 家")
    expect(page.locator("select[name=category]")).to_have_value("mask")
    page.screenshot(path=str(SCREENSHOT_DIR / f"browser-list-zh-{request.node.callspec.id}.png"))

    # Open a body: its scope table, in Chinese, as of the chosen date.
    page.click("#results >> text=海淀医疗器械认证有限公司")
    page.wait_for_url(re.compile(r"/bodies/HD-CERT\?as_of=2026-05-01"))
    expect(page.locator("h2").first).to_have_text("基本信息")
    scope = page.locator("#scope")
    expect(scope).to_contain_text("口罩")
    expect(scope.locator(".status").first).to_have_text("有效")
    expect(page.locator("#credit-code-warning")).to_be_visible()

    # Switch to English: same page, same date; headings and statuses in English.
    page.click("#lang-en")
    page.wait_for_url(re.compile(r"lang=en"))
    assert "/bodies/HD-CERT?" in page.url and "as_of=2026-05-01" in page.url
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Haidian Medical Device Certification Co.")
    expect(page.locator("h2")).to_have_text(["Details", "Scope", "Status history", "Change history"])
    expect(page.locator("#scope .status").first).to_have_text("Active")
    expect(page.locator("#status-history")).to_contain_text("Suspended")
    expect(page.locator("#body-status")).to_have_text("Active")
    shot = SCREENSHOT_DIR / f"browser-body-en-{request.node.callspec.id}.png"
    page.screenshot(path=str(shot), full_page=True)

    # Back on the filtered list: English now (the choice is remembered), the filters still set.
    page.go_back()
    page.go_back()
    page.reload()
    expect(page.locator("h1")).to_have_text("Certification bodies")
    assert "category=mask" in page.url and "province=11" in page.url
    expect(page.locator("select[name=province]")).to_have_value("11")
    assert sorted(_result_codes(page)) == ["CQC-BJ", "HD-CERT"]
    expect(page.locator("#results .status").first).to_have_text("Active")
