"""Certificates, seals and verdicts as the plain dicts the API schemas dump and the pages show."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import url_for

from app.kept_urls import kept_url
from registry.certificates import party_record, status_on
from registry.keystore import utc
from registry.models import Certificate, Seal
from registry.seals import seal_url
from registry.verification import VerificationResult, VerifiedCertificate
from verify.keys import b64url


def kid_b64url(kid_hex: str) -> str:
    """A stored key id (hex) as the JWKS writes it (base64url of the 8 bytes)."""
    try:
        return b64url(bytes.fromhex(kid_hex))
    except ValueError:
        return kid_hex


def seal_view(seal: Seal, host: str) -> dict[str, Any]:
    """The seal: its token, the URL its QR holds, and where to get the QR images."""
    certificate = seal.certificate
    where = {"body": certificate.body.code, "number": certificate.number}
    return {
        "token": seal.token,
        "url": seal_url(host, seal.token),
        "kid": kid_b64url(seal.kid),
        "issued_at": utc(seal.issued_at),
        "qr_png": url_for("api.certificate_qr_png", **where, _external=True),
        "qr_svg": url_for("api.certificate_qr_svg", **where, _external=True),
        "label_png": url_for("api.certificate_label_png", **where, _external=True),
    }


def certificate_url(number: str, body_code: str) -> str:
    """The API URL of a certificate (what a number typed by hand resolves to); kept, since every
    API verification names one and the same certificates come back (their seal is on every box)."""
    return kept_url("api.get_certificate_detail", external=True, body=body_code, number=number)


def certificate_view(
    certificate: Certificate, today: dt.date, seal: Seal | None, host: str
) -> dict[str, Any]:
    """A certificate with its status on ``today`` and its current seal (None before one is issued)."""
    body_org = certificate.body.organization
    return {
        "body": certificate.body.code,
        "body_names": {"zh": body_org.name_zh, "en": body_org.name_en},
        "number": certificate.number,
        "holder": party_record(certificate.holder),
        "manufacturer": party_record(certificate.manufacturer),
        "category": certificate.category,
        "jurisdiction": certificate.jurisdiction,
        "scheme": certificate.scheme,
        "product_name": certificate.product_name,
        "models": certificate.models,
        "standards": certificate.standards,
        "issue_date": certificate.issue_date,
        "expiry_date": certificate.expiry_date,
        "status": status_on(certificate, today),
        "stored_status": certificate.status,
        "version": certificate.version,
        "test_reports": [
            {"lab": r.lab.code, "report_number": r.report_number, "report_date": r.report_date}
            for r in certificate.test_reports
        ],
        "seal": seal_view(seal, host) if seal is not None else None,
        "url": certificate_url(certificate.number, certificate.body.code),
    }


def verified_certificate_view(certificate: VerifiedCertificate, today: dt.date) -> dict[str, Any]:
    """What a verification answer says of the certificate (JSON-ready: dates as text).

    Built by hand rather than dumped through the schema: it is on the hot path, and
    ``VerifiedCertificateSchema`` (which documents it) is checked against it by the tests.
    """
    return {
        "body": certificate.body.code,
        "body_names": {"zh": certificate.body.name_zh, "en": certificate.body.name_en},
        "number": certificate.number,
        "holder": party_record(certificate.holder),
        "manufacturer": party_record(certificate.manufacturer),
        "category": certificate.category,
        "jurisdiction": certificate.jurisdiction,
        "scheme": certificate.scheme,
        "product_name": certificate.product_name,
        "models": certificate.models,
        "standards": certificate.standards,
        "issue_date": certificate.issue_date.isoformat(),
        "expiry_date": certificate.expiry_date.isoformat(),
        "status": certificate.status_on(today),
        "url": certificate_url(certificate.number, certificate.body.code),
    }


def verdict_view(result: VerificationResult, today: dt.date, checked_at: str) -> dict[str, Any]:
    """The answer to one verification, in both languages (JSON-ready)."""
    certificate = result.certificate
    return {
        "verdict": result.code,
        "detail": result.detail,
        "valid": result.is_valid,
        "warning": result.is_warning,
        "reason": {"zh": result.reason_zh, "en": result.reason_en},
        "certificate": (
            verified_certificate_view(certificate, today) if certificate is not None else None
        ),
        "log": (
            {"index": certificate.log_index}
            if certificate is not None and certificate.log_index is not None
            else None
        ),
        "checked_at": checked_at,
    }


def certificate_detail_view(
    certificate: Certificate, today: dt.date, seal: Seal | None, host: str
) -> dict[str, Any]:
    """``certificate_view`` plus its status changes (who made them is internal)."""
    view = certificate_view(certificate, today, seal, host)
    view["history"] = [
        {"status": change.status, "reason": change.reason, "recorded_at": utc(change.recorded_at)}
        for change in certificate.status_changes
    ]
    return view
