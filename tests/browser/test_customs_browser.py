"""The customs check page in a real headless Chromium against a real HTTP server.

Scenario: a customs officer signs in, opens the check page, fills the declaration (an exporter
that is not a party of the certificate, a masks HS code, a port, a date), then the handheld
scanner types the seal URL into the focused scan field and presses Enter: the form is sent with
the declaration, the big verdict says the declaration does not match, and each check shows its
colour and reason. The declaration is still filled in for the next seal.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from registry.db import make_engine
from registry.users import create_user
from tests.browser.live import NOW, LiveServer, live_server
from tests.browser.test_public_browser import BACKENDS, CHROMIUM, CHROMIUM_ARGS, SCREENSHOT_DIR
from tests.browser.test_verify_browser import PASSPHRASE, seal_certificate
from tests.conftest import private_postgres_database
from tests.factories import credit_code

OFFICER, PASSWORD = "officer-shanghai", "customs officer password 2026"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture(params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    """The app over HTTP with its own committed database (SQLite file or PostgreSQL)."""
    monkeypatch.setenv("SEAL_KEY_PASSPHRASE", PASSPHRASE)
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'customs.sqlite3'}"
        else:
            url = stack.enter_context(private_postgres_database(os.environ["TEST_DATABASE_URL"]))
        yield stack.enter_context(live_server(url, tmp_path))


def add_officer(database_url: str) -> None:
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        create_user(session, OFFICER, PASSWORD, "customs", actor="test", now=NOW)
    engine.dispose()


@pytest.fixture
def page() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            yield context.new_page()
        finally:
            chromium.close()


def test_an_officer_scans_a_seal_with_a_declaration_and_reads_the_checks(
    server: LiveServer, page: Any
) -> None:
    token = seal_certificate(server.database_url)
    add_officer(server.database_url)
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", OFFICER)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    with page.expect_navigation():
        page.click("#nav-customs")
    page.wait_for_load_state("load")
    assert page.url.endswith("/customs/check")
    # The scan field has the focus as soon as the page opens.
    assert page.evaluate("document.activeElement.name") == "scanned"

    page.fill("#customs-exporter_credit_code", credit_code(4242))  # not the holder, not the maker
    page.fill("#customs-hs_code", "6307.90.0000")
    page.fill("#customs-port", "上海外高桥")
    page.fill("#customs-declaration_date", "2026-05-01")
    # The handheld scanner: the field gets the focus, the scanner types the URL and sends Enter.
    page.focus("#customs-scanned")
    with page.expect_navigation():
        page.keyboard.type(f"HTTPS://VERIFY.EXAMPLE.CN/V/{token}")
        page.keyboard.press("Enter")

    verdict = page.locator("#verdict")
    assert verdict.get_attribute("data-verdict") == "VALID"  # the seal itself is genuine and valid
    assert verdict.get_attribute("data-overall") == "MISMATCH"
    assert page.text_content("#verdict-word") == "申报不符"
    background = page.eval_on_selector("#verdict", "el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(253, 232, 230)"  # red
    rows = page.locator("#checks tbody tr")
    assert rows.count() == 4
    outcomes = {
        rows.nth(i).get_attribute("data-check"): rows.nth(i).get_attribute("data-outcome") for i in range(4)
    }
    assert outcomes == {
        "holder": "MISMATCH",
        "hs_code": "MATCH",
        "certificate_on_date": "MATCH",
        "authorization_on_date": "MATCH",
    }
    holder_row = page.locator('#checks tr[data-check="holder"]')
    assert "既不是证书持有人也不是证书记载的生产企业" in holder_row.inner_text()
    match_colour = page.eval_on_selector(
        '#checks tr[data-check="hs_code"] .outcome', "el => getComputedStyle(el).backgroundColor"
    )
    assert match_colour == "rgb(227, 244, 230)"  # green
    # Ready for the next seal: the declaration kept, the scan field empty and focused again.
    assert page.input_value("#customs-port") == "上海外高桥"
    assert page.input_value("#customs-scanned") == ""
    assert page.evaluate("document.activeElement.name") == "scanned"
    # ... with the verdict in view, without scrolling.
    top = page.eval_on_selector("#verdict", "el => el.getBoundingClientRect().top")
    assert 0 <= top < 900 / 2
    page.screenshot(path=str(SCREENSHOT_DIR / "customs-check-viewport.png"))
    page.screenshot(path=str(SCREENSHOT_DIR / "customs-check.png"), full_page=True)
