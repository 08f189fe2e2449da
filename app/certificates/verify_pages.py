"""The page a scanned seal opens, and the published public keys.

``/V/<TOKEN>`` is what the QR code holds (uppercase, for the QR's alphanumeric mode); ``/v/`` is
the same page for a token typed in lowercase. Any path gives a verdict page with status 200:
garbage is FORGED, never a 404 or a 500, because a person holding a fake product should read
"forged", not "page not found".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from jinja2 import Template
from markupsafe import Markup

from app import clock
from app.access import public
from app.certificates import verify_bp
from app.certificates.labels import certificate_status_label
from app.certificates.service import grace_days
from app.database import get_lookup_reader, get_session
from app.escaping import escaped
from app.i18n import (
    N_,
    TRANSLATORS,
    current_language,
    escaping_translated_environment,
    language_urls,
    translated_environment,
)
from app.kept_urls import kept_url
from app.page_plans import PagePlans, UnplannableTemplate
from app.scanlog import log_verification
from registry.db import Reader
from registry.keystore import public_jwks, root_public_jwks
from registry.oversight_models import ScanChannel
from registry.reference import reference_snapshot
from registry.verification import Party, VerificationResult, VerifiedCertificate, verify_scanned
from verify.verdict import REGISTRY_TIMEZONE, registry_today

JWKS_MAX_AGE = 300
VERDICT_TEMPLATE = "certificates/verify.html"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Headline:
    """The big words of a verdict, in both languages, and its colour (ok / warning / invalid)."""

    zh: str
    en: str
    tone: str


HEADLINES = {
    "VALID": Headline("有效", "VALID", "ok"),
    "FORGED": Headline("伪造", "FORGED", "invalid"),
    "KEY_REVOKED": Headline("印章无效：密钥已吊销", "INVALID: KEY REVOKED", "invalid"),
    "NOT_REGISTERED": Headline("未登记", "NOT REGISTERED", "invalid"),
    "BODY_NOT_AUTHORIZED": Headline("发证机构无资质", "BODY NOT AUTHORIZED", "invalid"),
    "CERTIFICATE_WITHDRAWN": Headline("证书已撤销", "CERTIFICATE WITHDRAWN", "invalid"),
    "CERTIFICATE_SUSPENDED": Headline("证书已暂停", "CERTIFICATE SUSPENDED", "invalid"),
    "CERTIFICATE_EXPIRED": Headline("证书已过期", "CERTIFICATE EXPIRED", "invalid"),
    "BODY_AUTHORIZATION_ENDED": Headline("发证机构资质已终止", "BODY AUTHORIZATION ENDED", "invalid"),
}
WARNING_HEADLINE = Headline("有效 · 请注意", "VALID · WARNING", "warning")


def headline(result: VerificationResult) -> Headline:
    """The headline of ``result``: a warning is amber whatever its code."""
    if result.is_warning:
        return WARNING_HEADLINE
    return HEADLINES.get(result.code, Headline(result.code, result.code, "invalid"))


def _render_verdict(language: str, context: dict[str, Any]) -> str:
    """The seal page, rendered with only what it uses.

    Not ``render_template``: its context processors would load the signed-in user (the session
    cookie, the API token header) and more for a page that shows none of it, on every scan.
    Everything the page shows is worked out here, in the request's language, so the template only
    places values (a call from a template costs several times the same call from Python); its
    fixed texts are translated when it is compiled (one compiled page per language).
    """
    template, plans = _verdict_renderer(language)
    environment = template.environment
    try:
        if plans is not None:  # the fixed text worked out once per shape of the page
            return plans.render(context)
        # Compiled without autoescaping: every value is escaped here, once, as autoescaping
        # would have (app.escaping). Shared: the page uses no global (url_for and the like are
        # worked out above), and copying the app's globals into every render's context would
        # cost more than most of the page. No ``_`` either: every text is translated when the
        # page is compiled, and a call left in it would fail here rather than print a text
        # unescaped.
        values = {name: escaped(value) for name, value in context.items()}
        values["style"] = _style(language)
        return environment.concat(template.root_render_func(template.new_context(values, shared=True)))  # type: ignore[attr-defined]
    except Exception:
        environment.handle_exception()  # re-raised with the template's own lines in the traceback
        raise


def _verdict_renderer(language: str) -> tuple[Template, PagePlans | None]:
    """The seal page compiled for ``language`` and its plans (``app.page_plans``, with the style
    sheet as a constant; None if the template cannot be planned: Jinja renders it then), kept
    per app: a Jinja cache lookup per scan is more than the page's own lookups of it."""
    pages: dict[str, tuple[Template, PagePlans | None]]
    pages = current_app.extensions.setdefault("verify_pages", {})
    found = pages.get(language)
    if found is None or found[0].environment.auto_reload:  # a debug app reloads an edited page
        environment = escaping_translated_environment(current_app, language)  # type: ignore[arg-type]
        template = environment.get_template(VERDICT_TEMPLATE)
        if found is None or found[0] is not template:
            try:
                plans: PagePlans | None = PagePlans(template, {"style": _style(language)})
            except UnplannableTemplate as exc:
                log.warning("%s is rendered by Jinja on every scan: %s", VERDICT_TEMPLATE, exc)
                plans = None
            found = pages[language] = (template, plans)
    return found


def _style(language: str) -> Markup:
    """The page's own style sheet: a fixed text, rendered once per app and language."""
    styles: dict[str, Markup] = current_app.extensions.setdefault("verify_styles", {})
    found = styles.get(language)
    if found is None:
        environment = translated_environment(current_app, language)  # type: ignore[arg-type]
        # Our own template with no values in it: nothing in it comes from a request.
        found = Markup(environment.get_template("certificates/_verify_style.html").render())  # noqa: S704
        styles[language] = found
    return found


MARKS = {"ok": "✔", "warning": "!", "invalid": "✖"}
# The verdict must be fresh on every scan (a revocation counts from the next request), and a
# token page is nothing a search engine should keep.
VERDICT_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Robots-Tag", "noindex"),
    ("Referrer-Policy", "no-referrer"),
)


def _page_context(
    result: VerificationResult, language: str, now: dt.datetime, reader: Reader
) -> dict[str, Any]:
    """What the seal page shows for ``result``, every text in ``language``: plain values, so the
    template only places them (each attribute looked up from a template is a call). ``reader``
    is the request's lookup reader (the names of categories and jurisdictions)."""
    zh = language == "zh"
    translate = TRANSLATORS[language]
    words = headline(result)
    switch = language_urls()
    context: dict[str, Any] = {
        "zh": zh,
        "html_lang": "zh-CN" if zh else "en",
        "other_lang": "en" if zh else "zh-CN",
        "tone": words.tone,
        "mark": MARKS.get(words.tone, MARKS["invalid"]),
        "first": words.zh if zh else words.en,
        "second": words.en if zh else words.zh,
        "reason_first": result.reason_zh if zh else result.reason_en,
        "reason_second": result.reason_en if zh else result.reason_zh,
        "code": result.code,
        "detail": result.detail,
        "checked_line": translate(
            N_("Checked by the registry at {time}."), time=checked_label(now.astimezone(REGISTRY_TIMEZONE))
        ),
        "home_url": kept_url("public.index"),
        "zh_url": switch["zh"],  # the switch, as on every page of the site
        "en_url": switch["en"],
        "certificate": result.certificate is not None,
        "claims": result.claims is not None,
        "report_url": None,
    }
    context["long"] = len(context["first"]) > 9  # the big word in a smaller size
    claims = result.claims
    if claims is not None:
        names = reference_snapshot(reader).names
        context.update(
            number=claims.certificate_number,
            body_code=claims.body_code,
            category_name=names("categories", language).get(claims.category, claims.category),
            jurisdiction_name=names("jurisdictions", language).get(claims.jurisdiction, claims.jurisdiction),
            issue_date=claims.issue_date.isoformat(),
            expiry_date=claims.expiry_date.isoformat(),
        )
    certificate = result.certificate
    if certificate is not None:
        context.update(_certificate_context(certificate, language, translate, now))
    if result.code != "VALID":
        # The report form, pre-filled with what the seal names (or its address when nothing in
        # it can be believed).
        if certificate is not None:
            kind, subject = "certificate", f"{certificate.body.code} {certificate.number}"
        else:
            kind, subject = "seal", request.url
        context["report_url"] = url_for("complaints.report", kind=kind, subject=subject)
    return context


def _certificate_context(
    certificate: VerifiedCertificate, language: str, translate: Callable[..., str], now: dt.datetime
) -> dict[str, Any]:
    """The registered certificate's lines of the page."""
    body, holder, maker = certificate.body, certificate.holder, certificate.manufacturer
    status_today = certificate.status_on(registry_today(now))
    log_index = certificate.log_index
    return {
        "number": certificate.number,
        "body_code": body.code,
        "status_today": status_today,
        "status_label": certificate_status_label(status_today, translate),
        "body_url": kept_url("public.body", code=body.code),
        "body_name": _name(body, language),
        "holder_name": _name(holder, language),
        "holder_code": holder.credit_code,
        "manufacturer_name": _name(maker, language),
        "manufacturer_code": maker.credit_code,
        "product": certificate.product_name,
        "models": certificate.models,
        "scheme": certificate.scheme,
        "standards": certificate.standards,
        "issue_date": certificate.issue_date.isoformat(),
        "expiry_date": certificate.expiry_date.isoformat(),
        "log_index": None if log_index is None else str(log_index),  # texts only: app.page_plans
        "log_entry": (
            translate(N_("Latest change: entry #{index}"), index=log_index) if log_index is not None else None
        ),
    }


def _name(party: Party, language: str) -> str:
    """``party``'s name in ``language``, else in the other (``app.i18n.localized`` for a Party)."""
    if language == "zh":
        return party.name_zh or party.name_en
    return party.name_en or party.name_zh


def _verdict_page(token: str) -> Response:
    now = clock.now()
    # One lookup on the thread's pinned connection, outside a transaction.
    reader = get_lookup_reader()
    # A trailing slash is what a browser or a person adds, never part of a token.
    scanned = token.rstrip("/")
    result = verify_scanned(reader, scanned, now=now, grace_days=grace_days())
    log_verification(result, scanned, channel=ScanChannel.PAGE, now=now)
    language = current_language()
    html = _render_verdict(language, _page_context(result, language, now, reader))
    return Response(html, headers=VERDICT_HEADERS, mimetype="text/html")


@verify_bp.get("/V/<path:token>")
@public
def verify_upper(token: str) -> Response:
    """The seal URL as printed in the QR code."""
    return _verdict_page(token)


@verify_bp.get("/v/<path:token>")
@public
def verify_lower(token: str) -> Response:
    """The same page for a URL typed or converted to lowercase."""
    return _verdict_page(token)


def _jwks(document: dict[str, object]) -> Response:
    response = jsonify(document)
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    return response


@verify_bp.get("/.well-known/jwks.json")
@public
def jwks() -> Response:
    """The public keys that verify seals now (RFC 8037 OKP Ed25519; revoked keys left out)."""
    return _jwks(public_jwks(get_session(), clock.now()))


@verify_bp.get("/.well-known/trust-root.json")
@public
def trust_root() -> Response:
    """The registry root key(s) that sign trust bundles, to pin in an offline scanner."""
    return _jwks(root_public_jwks(get_session(), clock.now()))


def checked_label(moment: dt.datetime) -> str:
    """``2026-06-15 18:00 (UTC+8)`` for the page footer (``moment`` in the registry's zone)."""
    return moment.isoformat(" ", "minutes")[:16] + " (UTC+8)"  # strftime costs several times more
