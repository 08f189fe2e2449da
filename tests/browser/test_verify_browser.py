"""The seal page on a phone-sized headless Chromium: one big verdict, readable at arm's length.

Scenario: a certificate of CQC-BJ is registered and sealed; the phone opens the URL its QR code
holds and sees a huge green VALID; a forged URL shows a huge red FORGED; after the certificate is
suspended the same URL turns red at once.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from registry import keystore
from registry.certificates import (
    CertificateInput,
    PartyInput,
    change_certificate_status,
    register_certificate,
)
from registry.db import make_engine
from registry.seals import issue_seal
from tests.browser.live import NOW, LiveServer, live_server
from tests.browser.test_public_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOT_DIR
from tests.factories import credit_code

PASSPHRASE = "browser-test-passphrase-0123456789"
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv("SEAL_KEY_PASSPHRASE", PASSPHRASE)
    with live_server(f"sqlite:///{tmp_path / 'verify.sqlite3'}", tmp_path) as live:
        yield live


def seal_certificate(database_url: str) -> str:
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        keystore.generate_key(session, "seal", PASSPHRASE.encode(), actor="test", now=NOW)
        certificate = register_certificate(
            session,
            "CQC-BJ",
            CertificateInput(
                number="CQC2026BROWSER1",
                holder=PartyInput("浏览器测试防护用品有限公司", credit_code=credit_code(990)),
                manufacturer=PartyInput("浏览器测试制造有限公司", credit_code=credit_code(991)),
                category="mask",
                jurisdiction="CN",
                scheme="CCC",
                product_name="KN95 respirator",
                issue_date=dt.date(2026, 3, 1),
                expiry_date=dt.date(2029, 3, 1),
            ),
            actor="test",
            now=NOW,
        )
        token = issue_seal(session, certificate, now=NOW, passphrase=PASSPHRASE.encode()).token
    engine.dispose()
    return token


def suspend(database_url: str) -> None:
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        change_certificate_status(
            session, "CQC-BJ", "CQC2026BROWSER1", "suspended", reason="audit", actor="test", now=NOW
        )
    engine.dispose()


@pytest.fixture
def phone() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, locale="zh-CN"
            )
            yield context.new_page()
        finally:
            chromium.close()


def verdict_style(page: Any) -> dict[str, str]:
    return page.eval_on_selector(
        "#verdict-word",
        """el => ({text: el.textContent, size: getComputedStyle(el).fontSize,
                  background: getComputedStyle(el.closest('#verdict')).backgroundColor,
                  top: String(el.getBoundingClientRect().top)})""",
    )


def test_a_phone_reads_the_verdict_at_arms_length(server: LiveServer, phone: Any) -> None:
    token = seal_certificate(server.database_url)
    phone.goto(f"{server.url}/V/{token}")
    style = verdict_style(phone)
    assert style["text"] == "有效"
    assert float(style["size"].removesuffix("px")) >= 40  # huge, whatever the phone
    assert style["background"] == "rgb(227, 244, 230)"  # green
    assert float(style["top"]) < PHONE["height"] / 2  # above the fold, no scrolling
    assert phone.is_visible("text=VALID") and phone.is_visible("text=CQC2026BROWSER1")
    phone.screenshot(path=str(SCREENSHOT_DIR / "verify-valid-phone.png"), full_page=True)

    phone.click("#lang-en")
    assert verdict_style(phone)["text"] == "VALID"

    phone.goto(f"{server.url}/V/{token[:-4]}AAAA")
    forged = verdict_style(phone)
    assert forged["text"] == "FORGED" and forged["background"] == "rgb(253, 232, 230)"  # red

    suspend(server.database_url)
    phone.goto(f"{server.url}/v/{token.lower()}")
    suspended = verdict_style(phone)
    assert suspended["text"] == "CERTIFICATE SUSPENDED" and suspended["background"] == "rgb(253, 232, 230)"
    # Long English words shrink to stay inside the box on a narrow phone.
    assert phone.eval_on_selector("#verdict-word", "el => el.scrollWidth <= el.clientWidth")
    phone.screenshot(path=str(SCREENSHOT_DIR / "verify-suspended-phone.png"), full_page=True)
