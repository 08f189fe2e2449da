"""The page a scanned seal opens: one big verdict in both languages, fresh on every scan."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import create_app
from app.escaping import escaped
from registry import keystore, translog
from registry.authorizations import change_status
from registry.certificates import PartyInput, change_certificate_status
from registry.models import AuditEvent, Body
from tests.factories import credit_code, grant, make_body
from tests.functional import test_certificates_support as support
from tests.functional.test_certificates_support import (
    World,
    sealed,
)
from verify.claims import Claims
from verify.keys import KeyRing
from verify.seal import issue_token

# The shared fixtures, made visible to pytest in this module.
app_config, cheap_password_hashing, keys, passphrase, world = (
    support.app_config,
    support.cheap_password_hashing,
    support.keys,
    support.passphrase,
    support.world,
)


def verdict_of(html: str) -> tuple[str, str]:
    match = re.search(r'id="verdict"[^>]*data-verdict="([A-Z_]+)" data-tone="(\w+)"', html)
    assert match, html[:2000]
    return match.group(1), match.group(2)


def page(world: World, path: str, lang: str = "zh") -> tuple[int, str]:
    response = world.call("anonymous", "GET", f"{path}?lang={lang}")
    return response.status_code, response.get_data(as_text=True)


def test_a_genuine_seal_is_valid_in_green_in_both_languages(world: World, session: Session) -> None:
    token = world.seal.token
    status, html = page(world, f"/V/{token}")
    assert status == 200
    assert verdict_of(html) == ("VALID", "ok")
    assert 'id="verdict-word">有效</h1>' in html
    assert ">VALID<" in html  # the other language, smaller, on the same page
    assert "A-0001" in html and "甲认证中心" in html and "KN95 respirator" in html
    assert 'id="certificate-status">有效<' in html
    _, english = page(world, f"/V/{token}", "en")
    assert 'id="verdict-word">VALID</h1>' in english and "有效" in english
    assert "Alpha Certification" in english
    # Where the certificate's latest change (its registration; the seal issued after it is
    # logged but changes nothing of the record) sits in the transparency log, with a proof.
    [registration] = session.scalars(
        select(AuditEvent.id).where(
            AuditEvent.action == "certificate:register", AuditEvent.subject_key == "CB-A/A-0001"
        )
    )
    index = translog.leaf_index_of(session, registration)
    assert f"Latest change: entry #{index}" in english
    assert f'href="/log/proof/inclusion?index={index}"' in english and f"第 {index} 条" in html
    response = world.call("anonymous", "GET", f"/V/{token}")
    assert response.headers["Cache-Control"] == "no-store"


def test_the_path_is_read_case_insensitively(world: World) -> None:
    token = world.seal.token
    for path in (f"/v/{token.lower()}", f"/V/{token.lower()}", f"/v/{token}", f"/V/{token}/"):
        status, html = page(world, path)
        assert status == 200 and verdict_of(html) == ("VALID", "ok"), path


def test_garbage_is_a_clear_forged_page_not_an_error(world: World) -> None:
    token = world.seal.token
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for path in (
        "/V/HELLO",
        "/V/" + "A" * 3000,
        "/V/a/b/c",
        f"/V/{flipped}",
        "/v/%F0%9F%98%80",
        "/V/..%2F..%2Fetc",
    ):
        status, html = page(world, path)
        assert status == 200, path
        assert verdict_of(html) == ("FORGED", "invalid"), path
        assert "伪造" in html and 'id="no-details"' in html


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=300))
def test_any_path_text_gets_a_verdict_page(world: World, text: str) -> None:
    status, html = page(world, "/V/" + quote(text, safe=""))
    # Only where the router sees no token ("/V/%2F0" is "/V//0") is it a redirect or a 404.
    assert status in (200, 308, 404)
    if status == 200:
        assert verdict_of(html)[0] in ("FORGED", "VALID")


def test_suspension_withdrawal_and_key_revocation_show_at_once(
    world: World, session: Session, now: dt.datetime, keys: dict[str, str]
) -> None:
    path = f"/V/{world.seal.token}"
    assert verdict_of(page(world, path)[1])[0] == "VALID"
    change_certificate_status(session, "CB-A", "A-0001", "suspended", reason="audit", actor="t", now=now)
    session.commit()
    assert verdict_of(page(world, path)[1]) == ("CERTIFICATE_SUSPENDED", "invalid")
    change_certificate_status(session, "CB-A", "A-0001", "valid", reason="fixed", actor="t", now=now)
    session.commit()
    assert verdict_of(page(world, path)[1])[0] == "VALID"
    keystore.revoke_key(session, keys["seal"], "stolen", actor="t", now=now)
    session.commit()
    _status, html = page(world, path)
    assert verdict_of(html) == ("KEY_REVOKED", "invalid") and "密钥已吊销" in html


def test_a_body_that_lost_its_authorization_is_amber_during_the_grace_period(
    world: World, session: Session, now: dt.datetime
) -> None:
    body = session.query(Body).filter_by(code="CB-A").one()
    change_status(
        session,
        body.authorizations[0].id,
        "withdrawn",
        reason="fraud",
        actor="t",
        now=now,
        effective=dt.date(2026, 5, 1),
    )
    session.commit()
    _status, html = page(world, f"/V/{world.seal.token}", "en")
    assert verdict_of(html) == ("BODY_AUTHORIZATION_ENDED", "warning")
    assert "VALID · WARNING" in html and "2026-05-01" in html


def test_an_expired_certificate_is_red(world: World, session: Session, now: dt.datetime) -> None:
    _, old = sealed(
        session,
        now,
        "CB-A",
        "OLD",
        issue_date=dt.date(2021, 1, 1),
        expiry_date=dt.date(2022, 1, 1),
        test_reports=[],
    )
    session.commit()
    _status, html = page(world, f"/V/{old.token}")
    assert verdict_of(html) == ("CERTIFICATE_EXPIRED", "invalid") and "证书已过期" in html


def test_a_genuine_seal_of_an_unregistered_certificate_shows_its_claims(
    world: World, session: Session, now: dt.datetime, passphrase: bytes
) -> None:
    entry = keystore.active_entry(session, "seal", passphrase)
    claims = Claims(
        "CB-A", "GHOST-1", None, "mask", "CN", dt.date(2026, 1, 1), dt.date(2027, 1, 1), now, b"\x00" * 16
    )
    token = issue_token(claims, KeyRing([entry]))
    _status, html = page(world, f"/V/{token}", "en")
    assert verdict_of(html) == ("NOT_REGISTERED", "invalid")
    assert 'id="seal-claims"' in html and "GHOST-1" in html


def test_the_links_mark_and_labels_worked_out_for_the_page(
    world: World, session: Session, now: dt.datetime
) -> None:
    """What the page's values say, verdict by verdict: the language switch keeps the seal's
    address, only a verdict other than VALID offers a pre-filled report, a warning is marked "!"."""
    token = world.seal.token
    _, valid = page(world, f"/V/{token}", "en")
    assert f'href="/V/{token}?lang=zh"' in valid and f'href="/V/{token}?lang=en"' in valid
    assert '<html lang="en">' in valid and 'aria-hidden="true">✔</p>' in valid
    assert 'id="certificate-status">In force<' in valid and 'id="report-this"' not in valid
    assert 'href="/bodies/CB-A"' in valid
    _, forged = page(world, "/V/HELLO", "zh")
    assert '<html lang="zh-CN">' in forged and 'aria-hidden="true">✖</p>' in forged
    assert 'id="report-this"><a href="/report?kind=seal&amp;subject=http' in forged
    change_certificate_status(session, "CB-A", "A-0001", "suspended", reason="audit", actor="t", now=now)
    session.commit()
    _, suspended = page(world, f"/V/{token}", "en")
    assert 'href="/report?kind=certificate&amp;subject=CB-A+A-0001"' in suspended
    assert 'id="certificate-status">Suspended<' in suspended
    change_certificate_status(session, "CB-A", "A-0001", "valid", reason="fixed", actor="t", now=now)
    body = session.query(Body).filter_by(code="CB-A").one()
    change_status(
        session, body.authorizations[0].id, "withdrawn", reason="fraud", actor="t", now=now,
        effective=dt.date(2026, 5, 1),
    )  # fmt: skip
    session.commit()
    _, warned = page(world, f"/V/{token}", "en")
    assert 'aria-hidden="true">!</p>' in warned and 'id="report-this"' in warned


def test_the_verification_pages_are_rate_limited(app_config: dict[str, object], world: World) -> None:
    limited: Flask = create_app(app_config | {"RATELIMIT_ENABLED": True, "RATELIMIT_PUBLIC": "3 per minute"})
    client = limited.test_client()
    codes = [client.get(f"/V/{world.seal.token}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert [client.get("/.well-known/jwks.json").status_code for _ in range(4)] == [200, 200, 200, 429]
    api = limited.test_client()
    answers = [api.post("/api/v1/verify", json={"token": "x"}).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_the_page_compiled_with_its_texts_translated_is_the_plain_template_rendered(
    world: World,
    app: Flask,
    session: Session,
    now: dt.datetime,
    passphrase: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The seal page's fixed texts are translated when it is compiled (app.i18n), and its values
    escaped by its view, not by autoescaping (app.escaping); every page, in either language and
    whatever the verdict, must read exactly as the template rendered the ordinary way, string by
    string through ``_``, autoescaped."""
    # Markup in every text a certificate gives the page: an escape left out shows.
    hostile = "<i>&\"'</i>"
    body = make_body(session, now, code="CB-M&'", name_zh=f"认证{hostile}", name_en=f"Body {hostile}")
    grant(session, now, body, category="mask", valid_from=dt.date(2020, 3, 1))
    _, marked = sealed(
        session,
        now,
        "CB-A",
        "A-<0002>&'",
        holder=PartyInput(f"持证{hostile}", name_en=f"Holder {hostile}", credit_code=credit_code(903)),
        manufacturer=PartyInput(name_zh=f"制造{hostile}", credit_code=credit_code(904)),
        product_name=f"Mask {hostile}",
        models=f"M-1 {hostile}",
        standards=f"GB 2626 {hostile}",
    )
    _, suspended = sealed(session, now, "CB-M&'", f"M-{hostile}", scheme=f"CCC {hostile}")
    change_certificate_status(session, "CB-M&'", f"M-{hostile}", "suspended", reason="r", actor="t", now=now)
    entry = keystore.active_entry(session, "seal", passphrase)
    ghost = Claims(
        "CB-A", f"GHOST-{hostile}", None, "mask", "CN", dt.date(2026, 1, 1), dt.date(2027, 1, 1), now,
        b"\x00" * 16,
    )
    unregistered = issue_token(ghost, KeyRing([entry]))
    session.commit()

    from app.certificates import verify_pages
    from app.i18n import CATALOG, TRANSLATORS, escaping_translated_environment

    pairs: list[tuple[str, str]] = []
    folded_render = verify_pages._render_verdict

    # Strict: the fast render sees no globals and lets a missing value print as nothing, so the
    # plain one refuses any name the page uses that its worked-out values do not give.
    strict = app.jinja_env.overlay(undefined=StrictUndefined)

    def both(language: str, context: dict[str, object]) -> str:
        folded = folded_render(language, context)
        plain = strict.get_template("certificates/verify.html").render(
            context, _=TRANSLATORS[language], style=verify_pages._style(language)
        )
        pairs.append((folded, plain))
        return folded

    monkeypatch.setattr(verify_pages, "_render_verdict", both)
    hostile_paths = [f"/V/{marked.token}", f"/V/{suspended.token}", f"/V/{unregistered}"]
    for path in (f"/V/{world.seal.token}", "/V/NOT-A-SEAL", *hostile_paths):
        for lang in ("zh", "en"):
            assert page(world, path, lang)[0] == 200
    assert len(pairs) == 10 and all(folded == plain for folded, plain in pairs)
    escaped_hostile = "&lt;i&gt;&amp;&#34;&#39;&lt;/i&gt;"
    assert all("<i>" not in folded and escaped_hostile in folded for folded, _ in pairs[4:])
    assert "Body &lt;i&gt;" in pairs[7][0] and "CCC &lt;i&gt;" in pairs[7][0]  # the suspended one
    assert 'id="report-this"' in pairs[7][0] and 'id="seal-claims"' in pairs[9][0]
    for language in ("zh", "en"):  # the pages came from the per-language compiled templates
        # ... rendered from their plans (app.page_plans): a template edit that cannot be planned
        # makes every scan render through Jinja, a tenth of the request; say so here.
        template, plans = app.extensions["verify_pages"][language]
        assert plans is not None and plans.template is template and plans.constants
        cached = escaping_translated_environment(app, language).cache
        assert cached is not None and any(key[1] == "certificates/verify.html" for key in cached)
        assert escaping_translated_environment(app, language).autoescape is False
    # And the translation really is in the compiled page, not looked up per render.
    environment = escaping_translated_environment(app, "zh")
    source = environment.loader.get_source(environment, "certificates/verify.html")[0]  # type: ignore[union-attr]
    compiled = environment.compile(source, raw=True)
    assert CATALOG["Certificate number"] in compiled and '"Certificate number"' not in compiled


_VALUES = st.one_of(
    st.text(), st.text(alphabet="&<>'\"ab中"), st.integers(), st.booleans(), st.none(), st.dates()
)


@given(_VALUES)
def test_a_value_escaped_ahead_prints_as_autoescaped(value: object) -> None:
    """The seal page's values are escaped by its view (app.escaping), as MarkupSafe would."""
    assert str(escaped(value)) == str(escape(value))
    if isinstance(value, (bool, int)) or value is None:  # the template tests these: kept as they are
        assert escaped(value) is value
    safe = Markup("<b>kept</b>")
    assert escaped(safe) is safe
