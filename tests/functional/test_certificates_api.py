"""The certificate API: registration (one, batches, limits), reading, filters, status changes, QR images."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.certificates import qr_cache
from registry import keystore
from registry.certificates import MAX_BULK, change_certificate_status
from registry.models import AuditEvent, Certificate, Seal
from tests.functional import test_certificates_support as support
from tests.functional.test_certificates_support import (
    HOST,
    PASSPHRASE,
    World,
    audit_count,
    certificate_count,
    certificate_json,
    sealed,
)
from verify.qr import qr_version

# The shared fixtures, made visible to pytest in this module.
app_config, cheap_password_hashing, keys, passphrase, world = (
    support.app_config,
    support.cheap_password_hashing,
    support.keys,
    support.passphrase,
    support.world,
)

CERTS = "/api/v1/certificates"


def register(world: World, payload: Any, who: str = "token_a") -> Any:
    return world.call(who, "POST", CERTS, json=payload)


def test_register_one_certificate_seals_it_and_audits_both(world: World, session: Session) -> None:
    response = register(world, certificate_json("NEW-1", models="KN95-A\nKN95-B", standards="GB 2626-2019"))
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"].endswith("/api/v1/certificates/CB-A/NEW-1")
    item = response.get_json()["items"][0]
    assert item["seal"]["url"] == f"HTTPS://{HOST}/V/{item['seal']['token']}"
    detail = world.call("anonymous", "GET", f"{CERTS}/CB-A/NEW-1").get_json()
    assert detail["seal"]["token"] == item["seal"]["token"]
    assert detail["status"] == "valid" and detail["models"] == "KN95-A\nKN95-B"
    assert detail["test_reports"] == [
        {"lab": "LAB-1", "report_number": "R-2026-001", "report_date": "2026-02-01"}
    ]
    actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.subject_key == "CB-A/NEW-1")))
    assert actions == {"certificate:register", "seal:issue"}
    assert (
        session.scalars(
            select(AuditEvent.actor).where(
                AuditEvent.action == "certificate:register", AuditEvent.subject_key == "CB-A/NEW-1"
            )
        )
        .one()
        .startswith("api-token:CB-A/")
    )


def test_the_registration_rules_are_refused_with_reasons_and_nothing_written(
    world: World, session: Session
) -> None:
    before = (audit_count(session), certificate_count(session))
    cases = {
        "category": certificate_json("R-1", category="ventilator", test_reports=[]),
        "expiry_date": certificate_json("R-2", expiry_date="2026-01-01"),
        "test_reports[0].lab_code": certificate_json(
            "R-3", test_reports=[{"lab_code": "CB-B", "report_number": "x", "report_date": "2026-01-01"}]
        ),
        "number": certificate_json("A-0001"),  # already registered
    }
    for field, payload in cases.items():
        response = register(world, payload)
        assert response.status_code == 422, field
        problem = response.get_json()
        assert problem["code"] == "invalid_input"
        assert field in [e["field"] for e in problem["errors"]], (field, problem)
    assert (audit_count(session), certificate_count(session)) == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"surprise": 1}, "surprise"),
        ({"holder": {"name_zh": "x", "oops": 1}}, "holder"),
        ({"issue_date": "01/03/2026"}, "issue_date"),
        ({"issue_date": "1999-01-01"}, "issue_date"),
        ({"test_reports": "LAB-1"}, "test_reports"),
        ({"number": 12}, "number"),
    ],
)
def test_malformed_fields_are_named(world: World, payload: dict[str, Any], field: str) -> None:
    response = register(world, certificate_json("BAD") | payload)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_a_batch_is_all_or_nothing_with_errors_by_index(world: World, session: Session) -> None:
    good = [certificate_json(f"B-{i}") for i in range(3)]
    response = register(world, {"items": good})
    assert response.status_code == 201 and response.get_json()["count"] == 3
    assert len({item["seal"]["token"] for item in response.get_json()["items"]}) == 3
    before = (audit_count(session), certificate_count(session))
    bad = [
        certificate_json("C-0"),
        certificate_json("C-1", category="ventilator"),
        certificate_json("C-0"),
        certificate_json("C-3", holder={"name_zh": "x"}),
        {"number": "C-4", "nonsense": True},
    ]
    refused = register(world, {"items": bad})
    assert refused.status_code == 422
    problem = refused.get_json()
    assert problem["code"] == "import_rejected"
    by_index = {(e["index"], e["field"]) for e in problem["errors"]}
    assert (4, "nonsense") in by_index  # shape errors are reported before the rules run
    shape_ok = [
        certificate_json("C-0"),
        certificate_json("C-1", category="ventilator"),
        certificate_json("C-0"),
        certificate_json("C-3", holder={"name_zh": "x"}),
    ]
    rules = register(world, {"items": shape_ok}).get_json()
    assert {(e["index"], e["field"]) for e in rules["errors"]} == {
        (1, "category"),
        (1, "test_reports[0].lab_code"),
        (2, "number"),
        (3, "holder.credit_code"),
    }
    assert (audit_count(session), certificate_count(session)) == before


def test_batches_over_the_limit_are_refused_naming_it(world: World, session: Session) -> None:
    response = register(world, {"items": [{}] * (MAX_BULK + 1)})
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "batch_too_large" and problem["limit"] == MAX_BULK
    assert str(MAX_BULK) in problem["detail"]
    empty = register(world, {"items": []})
    assert empty.status_code == 422


def test_a_body_over_the_size_limit_is_a_413_naming_it(world: World) -> None:
    blob = b'{"items": [' + b'"' + b"x" * (33 * 1024 * 1024) + b'"]}'
    response = world.call("token_a", "POST", CERTS, data=blob, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "33554432" in response.get_json()["detail"]


def test_not_json_bodies_get_clear_errors(world: World) -> None:
    for data, status in (
        (b"{", 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),
        (b"\xff\xfe", 400),
        (b"[1, 2]", 422),
        (b'"x"', 422),
        (b"null", 422),
    ):
        response = world.call(
            "token_a", "POST", CERTS, data=data, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == status, data[:10]
        assert response.mimetype == "application/problem+json"


def test_without_a_signing_key_nothing_is_registered(
    world: World, session: Session, now: dt.datetime, keys: dict[str, str]
) -> None:
    keystore.revoke_key(session, keys["seal"], "compromised", actor="test", now=now)
    session.commit()
    before = certificate_count(session)
    response = register(world, certificate_json("NO-KEY"))
    assert response.status_code == 503 and response.get_json()["code"] == "signing_unavailable"
    assert certificate_count(session) == before


def test_list_filters_and_pages(world: World, session: Session, now: dt.datetime) -> None:
    from tests.factories import credit_code

    sealed(session, now, "CB-A", "F-SUSP")
    sealed(
        session,
        now,
        "CB-A",
        "F-EXP",
        issue_date=dt.date(2021, 1, 1),
        expiry_date=dt.date(2022, 1, 1),
        test_reports=[],
    )
    sealed(
        session,
        now,
        "CB-B",
        "F-B",
        holder=__import__("registry.certificates", fromlist=["PartyInput"]).PartyInput(
            name_zh="别家", credit_code=credit_code(903)
        ),
    )
    change_certificate_status(session, "CB-A", "F-SUSP", "suspended", reason="r", actor="t", now=now)
    session.commit()

    def numbers(query: str) -> list[str]:
        response = world.call("anonymous", "GET", f"{CERTS}?{query}")
        assert response.status_code == 200, response.get_json()
        return [item["number"] for item in response.get_json()["items"]]

    assert numbers("body=CB-A") == ["A-0001", "F-EXP", "F-SUSP"]
    assert numbers("status=suspended") == ["F-SUSP"]
    assert numbers("status=expired") == ["F-EXP"]
    assert numbers("status=valid") == ["A-0001", "F-B"]
    assert numbers(f"holder={credit_code(903).lower()}") == ["F-B"]
    assert numbers("category=ventilator") == []
    page = world.call("anonymous", "GET", f"{CERTS}?per_page=2&page=2").get_json()
    assert (page["total"], page["pages"], len(page["items"])) == (4, 2, 2)
    assert "page=1" in page["links"]["prev"] and page["links"]["next"] is None
    assert page["items"][0]["seal"]["qr_png"].endswith("/qr.png")
    for bad in ("status=bogus", "per_page=1000", "page=0", "nonsense=1"):
        assert world.call("anonymous", "GET", f"{CERTS}?{bad}").status_code == 422, bad


def test_status_changes_need_a_reason_a_legal_transition_and_a_current_version(world: World) -> None:
    url = f"{CERTS}/CB-A/A-0001"
    assert world.call("token_a", "POST", url + "/suspend", json={}).status_code == 422
    assert world.call("token_a", "POST", url + "/suspend", json={"reason": "  "}).status_code == 422
    assert world.call("token_a", "POST", url + "/restore", json={"reason": "r"}).status_code == 409
    version = world.call("anonymous", "GET", url).get_json()["version"]
    done = world.call("token_a", "POST", url + "/suspend", json={"reason": "audit", "version": version})
    assert done.status_code == 200 and done.get_json()["status"] == "suspended"
    assert done.get_json()["history"][-1]["reason"] == "audit"
    stale = world.call("token_a", "POST", url + "/withdraw", json={"reason": "r", "version": version})
    assert stale.status_code == 409 and stale.get_json()["code"] == "stale_edit"
    assert (
        world.call("token_a", "POST", f"{CERTS}/CB-A/NOPE/suspend", json={"reason": "r"}).status_code == 404
    )


def test_qr_png_round_trips_through_a_real_decoder(world: World) -> None:
    import io

    qr_cache.clear()
    seal = world.seal
    response = world.call("anonymous", "GET", f"{CERTS}/CB-A/A-0001/qr.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
    assert [d.text for d in decoded] == [f"HTTPS://{HOST}/V/{seal.token}"]
    # The phone opens that URL: it answers VALID.
    page = world.call("anonymous", "GET", f"/V/{seal.token}")
    assert 'data-verdict="VALID"' in page.get_data(as_text=True)
    label = world.call("anonymous", "GET", f"{CERTS}/CB-A/A-0001/label.png")
    assert [d.text for d in zxingcpp.read_barcodes(Image.open(io.BytesIO(label.data)))] == [decoded[0].text]
    svg = world.call("anonymous", "GET", f"{CERTS}/CB-A/A-0001/qr.svg")
    assert svg.mimetype == "image/svg+xml" and svg.data.startswith(b"<svg")
    # Measured, not assumed: a typical certificate fits version 10 at ECC M.
    assert qr_version(decoded[0].text) <= 10, qr_version(decoded[0].text)


def test_qr_images_are_rendered_once_and_revalidated_by_etag(world: World) -> None:
    qr_cache.clear()
    url = f"{CERTS}/CB-A/A-0001/qr.png"
    first = world.call("anonymous", "GET", url)
    second = world.call("anonymous", "GET", url)
    assert first.data == second.data
    assert qr_cache.qr_png.cache_info().hits == 1 and qr_cache.qr_png.cache_info().misses == 1
    etag = first.headers["ETag"]
    assert world.call("anonymous", "GET", url, headers={"If-None-Match": etag}).status_code == 304


def test_a_certificate_without_a_seal_has_no_qr(world: World, session: Session, now: dt.datetime) -> None:
    from registry.certificates import register_certificate
    from tests.functional.test_certificates_support import certificate_input

    register_certificate(session, "CB-A", certificate_input("UNSEALED"), actor="t", now=now)
    session.commit()
    assert world.call("anonymous", "GET", f"{CERTS}/CB-A/UNSEALED").get_json()["seal"] is None
    assert world.call("anonymous", "GET", f"{CERTS}/CB-A/UNSEALED/qr.png").status_code == 404
    assert world.call("anonymous", "GET", f"{CERTS}/CB-A/MISSING").status_code == 404


def test_a_host_header_that_cannot_be_printed_is_a_400(app_config: dict[str, object], world: World) -> None:
    from app import create_app

    client = create_app(app_config | {"PUBLIC_HOST": None}).test_client()
    response = client.get(f"{CERTS}/CB-A/A-0001", headers={"Host": "bad_host"})
    assert response.status_code == 400
    fine = client.get(f"{CERTS}/CB-A/A-0001", headers={"Host": "registry.example.cn"})
    assert fine.get_json()["seal"]["url"].startswith("HTTPS://REGISTRY.EXAMPLE.CN/V/")


def test_the_seal_row_is_the_one_served(world: World, session: Session) -> None:
    stored = session.scalars(select(Seal).join(Certificate).where(Certificate.number == "A-0001")).one()
    detail = world.call("anonymous", "GET", f"{CERTS}/CB-A/A-0001").get_json()
    assert detail["seal"]["token"] == stored.token
    assert PASSPHRASE not in str(detail)


def test_answers_conform_to_the_openapi_document(world: World) -> None:
    from tests.functional.test_api_openapi import conforms

    document = world.call("anonymous", "GET", "/api/v1/openapi.json").get_json()
    conforms(document, "CertificatePage", world.call("anonymous", "GET", CERTS).get_json())
    conforms(document, "CertificateDetail", world.call("anonymous", "GET", f"{CERTS}/CB-A/A-0001").get_json())
    conforms(document, "Registration", register(world, certificate_json("DOC-1")).get_json())
    token = world.seal.token
    verdict = world.call("anonymous", "POST", "/api/v1/verify", json={"token": token}).get_json()
    conforms(document, "Verdict", verdict)
    conforms(
        document, "Verdict", world.call("anonymous", "POST", "/api/v1/verify", json={"qr": "x"}).get_json()
    )
    batch = world.call("anonymous", "POST", "/api/v1/verify", json={"items": [token, "x"]}).get_json()
    conforms(document, "VerdictBatch", batch)
    conforms(document, "Problem", register(world, {"nonsense": 1}).get_json())
    with pytest.raises(Exception, match="verdict"):
        conforms(document, "Verdict", {"reason": verdict["reason"]})


def test_a_number_with_slashes_has_working_addresses(world: World) -> None:
    """Numbers such as ``GB20/12345`` (some foreign bodies' style) route as a path: the detail,
    its QR code, label and print page, status changes, and the operator's own pages."""
    import io

    number = "GB20/12345"
    response = register(world, certificate_json(number))
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/certificates/CB-A/{number}")
    url = f"{CERTS}/CB-A/{number}"
    detail = world.call("anonymous", "GET", url)
    assert detail.status_code == 200 and detail.get_json()["number"] == number
    assert detail.get_json()["url"].endswith(url)
    token = detail.get_json()["seal"]["token"]
    png = world.call("anonymous", "GET", url + "/qr.png")
    assert [d.text for d in zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))] == [
        f"HTTPS://{HOST}/V/{token}"
    ]
    assert world.call("anonymous", "GET", url + "/qr.svg").mimetype == "image/svg+xml"
    assert world.call("anonymous", "GET", url + "/label.png").mimetype == "image/png"
    verdict = world.call("anonymous", "POST", "/api/v1/verify", json={"token": token}).get_json()
    assert verdict["verdict"] == "VALID" and verdict["certificate"]["url"].endswith(url)
    done = world.call("token_a", "POST", url + "/suspend", json={"reason": "audit"})
    assert done.status_code == 200 and done.get_json()["status"] == "suspended"
    page = world.call("op_a", "GET", f"/certificates/CB-A/{number}")
    assert page.status_code == 200 and number in page.get_data(as_text=True)
    assert world.call("op_a", "GET", f"/certificates/CB-A/{number}/print").status_code == 200


@pytest.mark.parametrize(
    "number", ["/GB20-1", "GB20-1/", "GB20//1", "GB20/./1", "GB20/../1", "GB20/qr.png", "GB20/print"]
)
def test_numbers_whose_addresses_would_be_ambiguous_are_refused(
    world: World, session: Session, number: str
) -> None:
    before = certificate_count(session)
    response = register(world, certificate_json(number))
    assert response.status_code == 422, response.get_json()
    assert "number" in str(response.get_json()) and "'/'" in str(response.get_json())
    assert certificate_count(session) == before
