"""Certificates in the JSON API: register (one or a batch), list, read, QR images, status changes.

Reading is public: a certificate and its seal are what anyone scanning a product sees anyway.
Writing needs a caller (``app.auth_tokens``): a body's API token or a signed-in body operator
acts for that body only, an admin for any body. Every route is ``@public`` for the access layer
and checks its caller inside (401/403 problem+json), as the OpenAPI test expects of /api/v1.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from app import clock
from app.access import public
from app.api import bp
from app.auth_tokens import current_caller, exempt_json_writes, json_write
from app.certificates import qr_cache
from app.certificates.http import batch_errors, check_batch_size, read_json, strict_load
from app.certificates.present import certificate_detail_view, certificate_view, seal_view
from app.certificates.schemas import (
    CertificateBatchSchema,
    CertificateCreateSchema,
    CertificateDetailSchema,
    CertificateListArgs,
    CertificatePageSchema,
    RegistrationSchema,
    StatusChangeSchema,
)
from app.certificates.service import (
    CertificateFilter,
    public_host,
    register_with_seals,
    seal_url_for,
    search_certificates,
)
from app.database import get_session
from registry.certificates import MAX_BULK, change_certificate_status, get_certificate
from registry.models import Certificate, Seal
from registry.seals import latest_seal

# A batch of 10,000 certificates is about 7 MB of JSON: more than the app-wide upload limit.
MAX_BULK_BYTES = 32 * 1024 * 1024
QR_MAX_AGE = 300  # seconds: the current seal may be replaced by a newer one, so not forever


def _page_link(args: dict[str, str], page: int) -> str:
    return url_for("api.list_certificates", **(args | {"page": str(page)}), _external=True)


@bp.get("/certificates")
@public
def list_certificates() -> Response:
    """Registered certificates, filtered by body, holder credit code, category and status today."""
    args = CertificateListArgs().load(request.args)
    today = clock.today()
    filters = CertificateFilter(
        body_code=args.get("body"),
        holder_credit_code=args.get("holder"),
        category=args.get("category"),
        status=args.get("status"),
    )
    page = search_certificates(
        get_session(), filters, today=today, page=args["page"], per_page=args["per_page"]
    )
    host = public_host()
    links_args = {k: v for k, v in request.args.to_dict(flat=True).items() if v.strip()}
    document = {
        "as_of": today,
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
        "pages": page.pages,
        "items": [certificate_view(c, today, page.seals.get(c.id), host) for c in page.items],
        "links": {
            "self": _page_link(links_args, page.page),
            "next": _page_link(links_args, page.page + 1) if page.page < page.pages else None,
            "prev": _page_link(links_args, min(page.page - 1, page.pages)) if page.page > 1 else None,
        },
    }
    return jsonify(CertificatePageSchema().dump(document))


def _load_registration(payload: Any) -> dict[str, Any]:
    """``{"body", "items"}`` from one certificate or a batch ``{"body"?, "items": [...]}``."""
    if isinstance(payload, dict) and "items" in payload:
        check_batch_size(payload["items"], MAX_BULK, "certificates")
        try:
            loaded: dict[str, Any] = CertificateBatchSchema().load(payload)
        except ValidationError as error:
            raise batch_errors(error) from None
        return loaded
    result: dict[str, Any] = strict_load(CertificateCreateSchema(), payload)
    return result


@bp.post("/certificates")
@public
@json_write
def register_certificates() -> tuple[Response, int]:
    """Register one certificate, or up to 10,000 all or nothing, and seal each one.

    One certificate: its fields (and "body" for an admin). A batch: {"body"?, "items": [...]};
    any problem refuses the whole batch with every problem listed by item index.
    """
    caller = current_caller()
    request_data = _load_registration(read_json(MAX_BULK_BYTES))
    body = caller.body_for(request_data["body"])
    registered = register_with_seals(
        get_session(), body.code, request_data["items"], actor=caller.actor, now=clock.now()
    )
    host = public_host()
    document = {
        "count": len(registered),
        "items": [
            {"body": c.body.code, "number": c.number, "seal": seal_view(seal, host)} for c, seal in registered
        ],
    }
    response = jsonify(RegistrationSchema().dump(document))
    if len(registered) == 1:
        response.headers["Location"] = url_for(
            "api.get_certificate_detail", body=body.code, number=registered[0][0].number, _external=True
        )
    return response, 201


def _certificate(body: str, number: str) -> Certificate:
    return get_certificate(get_session(), body, number)


@bp.get("/certificates/<body>/<path:number>")
@public
def get_certificate_detail(body: str, number: str) -> Response:
    """One certificate (e.g. a number typed by hand) with its status today, seal and history."""
    certificate = _certificate(body, number)
    seal = latest_seal(get_session(), certificate)
    view = certificate_detail_view(certificate, clock.today(), seal, public_host())
    return jsonify(CertificateDetailSchema().dump(view))


def _current_seal(body: str, number: str) -> tuple[Certificate, Seal]:
    certificate = _certificate(body, number)
    seal = latest_seal(get_session(), certificate)
    if seal is None:
        raise NotFound(f"certificate {number} of {body} has no seal yet")
    return certificate, seal


def _image(data: bytes, mimetype: str, seal: Seal) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = f"public, max-age={QR_MAX_AGE}"
    response.set_etag(seal.token_sha256)
    response.make_conditional(request)  # 304 when the client holds this seal's image already
    return response


@bp.get("/certificates/<body>/<path:number>/qr.png")
@public
def certificate_qr_png(body: str, number: str) -> Response:
    """The QR code of the certificate's current seal, as PNG (ECC level M)."""
    _, seal = _current_seal(body, number)
    return _image(qr_cache.qr_png(seal_url_for(seal)), "image/png", seal)


@bp.get("/certificates/<body>/<path:number>/qr.svg")
@public
def certificate_qr_svg(body: str, number: str) -> Response:
    """The QR code of the certificate's current seal, as SVG."""
    _, seal = _current_seal(body, number)
    return _image(qr_cache.qr_svg(seal_url_for(seal)), "image/svg+xml", seal)


@bp.get("/certificates/<body>/<path:number>/label.png")
@public
def certificate_label_png(body: str, number: str) -> Response:
    """A printable label: the QR code with the certificate number under it, for manual entry."""
    certificate, seal = _current_seal(body, number)
    png = qr_cache.label_png(seal_url_for(seal), certificate.number, certificate.body.code)
    return _image(png, "image/png", seal)


def _change_status(body: str, number: str, new_status: str) -> Response:
    caller = current_caller()
    certificate = _certificate(body, number)
    caller.check_body(certificate.body)
    data = strict_load(StatusChangeSchema(), read_json())
    changed = change_certificate_status(
        get_session(),
        certificate.body.code,
        certificate.number,
        new_status,
        reason=data["reason"],
        actor=caller.actor,
        now=clock.now(),
        expected_version=data["version"],
    )
    view = certificate_detail_view(changed, clock.today(), latest_seal(get_session(), changed), public_host())
    return jsonify(CertificateDetailSchema().dump(view))


@bp.post("/certificates/<body>/<path:number>/suspend")
@public
@json_write
def suspend_certificate(body: str, number: str) -> Response:
    """Suspend a valid certificate, with a reason: {"reason": "..."}."""
    return _change_status(body, number, "suspended")


@bp.post("/certificates/<body>/<path:number>/withdraw")
@public
@json_write
def withdraw_certificate(body: str, number: str) -> Response:
    """Withdraw a valid or suspended certificate, with a reason: {"reason": "..."}."""
    return _change_status(body, number, "withdrawn")


@bp.post("/certificates/<body>/<path:number>/restore")
@public
@json_write
def restore_certificate(body: str, number: str) -> Response:
    """Restore a suspended or withdrawn certificate to valid, with a reason: {"reason": "..."}."""
    return _change_status(body, number, "valid")


exempt_json_writes(bp)
