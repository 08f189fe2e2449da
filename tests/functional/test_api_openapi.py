"""The OpenAPI document at /api/v1/openapi.json: complete, valid, and true to the responses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from sqlalchemy.orm import Session

from app.access import PUBLIC, access_of
from app.api.openapi import OPERATIONS, openapi_path
from app.filters import BodyListArgs
from tests.functional.test_api_sample import build_sample

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    spec: dict[str, Any] = response.get_json()
    return spec


def api_rules(app: Flask) -> list[Any]:
    """The rules the document describes: the JSON API and the transparency log."""
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(("/api/v1/", "/log/"))]


def test_document_is_valid_openapi_31(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert {"title", "version"} <= set(document["info"])
    validate_spec(document)


def test_every_api_rule_is_documented(app: Flask, document: dict[str, Any]) -> None:
    rules = api_rules(app)
    assert len(rules) >= 7
    for rule in rules:
        path = openapi_path(rule.rule)
        assert path in document["paths"], f"{rule.rule} is missing from the OpenAPI document"
        for method in (rule.methods or set()) - IGNORED_METHODS:
            operation = document["paths"][path][method.lower()]
            assert operation["summary"], f"{method} {path} has no summary (the view's docstring)"
            assert "200" in operation["responses"]
    assert {openapi_path(r.rule) for r in rules} == set(document["paths"])


def test_every_api_endpoint_has_its_own_operation_and_is_public(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in api_rules(app)}
    assert endpoints == set(OPERATIONS)
    for endpoint in endpoints:
        assert access_of(app.view_functions[endpoint]) == PUBLIC


def test_path_parameters_are_declared(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            expected = {part[1:-1] for part in path.replace(".", "/").split("/") if part.startswith("{")}
            assert declared == expected, path


def test_list_parameters_are_the_filter_schema(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/bodies"]["get"]
    names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert names == set(BodyListArgs().fields)
    export = document["paths"]["/api/v1/bodies/export.{fmt}"]["get"]
    export_names = {p["name"] for p in export["parameters"] if p["in"] == "query"}
    assert export_names == names - {"page", "per_page"}


def test_errors_are_documented_as_problems(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "code", "detail"} <= set(problem["required"])
    detail = document["paths"]["/api/v1/bodies/{code}"]["get"]["responses"]
    assert {"404", "405", "422"} <= set(detail)
    not_found = document["components"]["responses"]["NotFound"]
    schema = not_found["content"]["application/problem+json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Problem"}


def conforms(document: dict[str, Any], schema_name: str, instance: Any) -> None:
    """Validate ``instance`` against a component schema of ``document`` (JSON Schema 2020-12)."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    OAS31Validator(schema).validate(instance)


def test_responses_conform_to_the_document(
    client: FlaskClient, document: dict[str, Any], session: Session, now: dt.datetime
) -> None:
    build_sample(session, now)
    conforms(document, "BodyPage", client.get("/api/v1/bodies").get_json())
    conforms(document, "BodyDetail", client.get("/api/v1/bodies/API-CB-SUSP").get_json())
    conforms(document, "BodyDetail", client.get("/api/v1/bodies/API-CB-SUSP?as_of=2020-01-01").get_json())
    conforms(document, "Authorized", client.get("/api/v1/authorized?body=API-LAB-1&category=mask").get_json())
    conforms(document, "CategoryList", client.get("/api/v1/categories").get_json())
    conforms(document, "JurisdictionList", client.get("/api/v1/jurisdictions").get_json())
    conforms(document, "Export", client.get("/api/v1/bodies/export.json").get_json())
    conforms(document, "Problem", client.get("/api/v1/bodies/NOPE").get_json())
    conforms(document, "Problem", client.get("/api/v1/bodies?kind=x").get_json())


def test_a_wrong_document_is_caught(document: dict[str, Any]) -> None:
    # The conformance check above can fail: a body without its names is refused.
    with pytest.raises(Exception, match="names"):
        conforms(document, "Body", {"code": "X"})
