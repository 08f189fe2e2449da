"""The transparency log over HTTP (/log/*), its OpenAPI description, its CLI and the demo log key.

A client's view: it trusts only the key from /log/key, opens the checkpoint with it, and checks
every proof the server hands out against the checkpoint's root with ``verify.merkle``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS31Validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import config
from app import create_app
from app.access import PUBLIC, access_of
from app.database import dispose as dispose_app
from registry import audit, keystore, migrate, translog
from registry.db import make_engine
from registry.demo import load_demo
from registry.demo_certificates import load_demo_certificates
from registry.models import AuditEvent, LogCheckpoint
from tests.conftest import NOW
from tests.unit.seal_support import PASSPHRASE, make_world, register
from verify import merkle
from verify.checkpoint import Checkpoint, NoteVerifier, open_checkpoint

HOST = "log.example.cn"
ORIGIN = f"{HOST}/registry-log"
LOG_PATHS = {"/log/checkpoint", "/log/key", "/log/proof/inclusion", "/log/proof/consistency", "/log/entries"}


@pytest.fixture(autouse=True)
def passphrase(monkeypatch: pytest.MonkeyPatch) -> bytes:
    # The app reads the key passphrase from the environment, as in production.
    monkeypatch.setenv("SEAL_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.delenv("SEAL_KEY_PASSPHRASE_FILE", raising=False)
    return PASSPHRASE


@pytest.fixture
def app_config(app_config: dict[str, object]) -> dict[str, object]:
    return app_config | {"PUBLIC_HOST": HOST}


@pytest.fixture
def logged(session: Session, now: dt.datetime) -> int:
    """A registry with a log key and a few changes, committed (to the test's savepoint)."""
    world = make_world(session, now)
    keystore.generate_key(session, "log", PASSPHRASE, actor="test", now=now)
    for number in ("L-1", "L-2", "L-3"):
        register(session, now, world, number)
    session.commit()
    return translog.head(session).size


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def log_key(client: FlaskClient) -> NoteVerifier:
    response = client.get("/log/key")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "text/plain; charset=utf-8"
    return NoteVerifier(response.get_data(as_text=True).rstrip("\n"))


def signed_checkpoint(client: FlaskClient) -> Checkpoint:
    response = client.get("/log/checkpoint")
    assert response.status_code == 200, response.get_data(as_text=True)
    checkpoint = open_checkpoint(response.data, log_key(client), ORIGIN)
    assert int(response.headers["X-Log-Size"]) == checkpoint.size
    return checkpoint


def add_events(session: Session, now: dt.datetime, count: int) -> None:
    for n in range(count):
        audit.record(session, now=now, actor="test", action="test:event", subject_type="test",
                     subject_key=str(n), before=None, after={"n": n})
    session.commit()


# --- checkpoint and key ---------------------------------------------------------------------------


def test_the_checkpoint_opens_with_the_published_key(
    client: FlaskClient, session: Session, logged: int
) -> None:
    response = client.get("/log/checkpoint")
    assert response.status_code == 200
    assert response.content_type == "text/plain; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Log-Size"] == str(logged)
    key = log_key(client)
    assert key.name == ORIGIN
    checkpoint = open_checkpoint(response.data, key, ORIGIN)
    assert checkpoint.size == logged
    assert checkpoint.root_hash == translog.head(session).root_hash
    # Signed once per size: the same note again, and it was saved by the request's commit.
    assert client.get("/log/checkpoint").data == response.data
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(LogCheckpoint)) == 1
    # A key of another name (another log) does not open it.
    other = NoteVerifier.from_public_key("other.example/log", key.public_key)
    with pytest.raises(ValueError):
        open_checkpoint(response.data, other, "other.example/log")


def test_a_grown_log_gets_a_new_checkpoint(
    client: FlaskClient, session: Session, now: dt.datetime, logged: int
) -> None:
    first = signed_checkpoint(client)
    add_events(session, now, 2)
    second = signed_checkpoint(client)
    assert (first.size, second.size) == (logged, logged + 2)
    assert first.root_hash != second.root_hash


def test_no_log_key_is_a_503_problem(client: FlaskClient, session: Session, now: dt.datetime) -> None:
    make_world(session, now)  # seal and root keys, but no log key
    session.commit()
    for url in ("/log/checkpoint", "/log/key"):
        response = client.get(url, headers={"Accept": "*/*"})
        assert response.status_code == 503, url
        assert response.mimetype == "application/problem+json"
        problem = response.get_json()
        assert problem["code"] == "signing_unavailable"
        assert "log" in problem["detail"] and "generate --purpose log" in problem["detail"], problem


def test_no_or_a_wrong_passphrase_is_a_503_problem(
    client: FlaskClient, logged: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEAL_KEY_PASSPHRASE")
    response = client.get("/log/checkpoint")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert "passphrase" in response.get_json()["detail"]
    monkeypatch.setenv("SEAL_KEY_PASSPHRASE", "not-the-passphrase-0123456789abcdef")
    assert client.get("/log/checkpoint").status_code == 503
    assert client.get("/log/key").status_code == 200  # the public key needs no passphrase


# --- proofs ---------------------------------------------------------------------------------------


def test_every_inclusion_proof_verifies_against_the_checkpoint(client: FlaskClient, logged: int) -> None:
    checkpoint = signed_checkpoint(client)
    entries = client.get(f"/log/entries?start=0&end={checkpoint.size}").get_json()["entries"]
    for index in range(checkpoint.size):
        response = client.get(f"/log/proof/inclusion?index={index}")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-cache"  # the size was the current one
        answer = response.get_json()
        assert (answer["index"], answer["size"]) == (index, checkpoint.size)
        assert b64(answer["root_hash"]) == checkpoint.root_hash
        leaf = b64(answer["leaf_hash"])
        assert leaf == merkle.leaf_hash(entries[index]["data"].encode("utf-8"))
        merkle.verify_inclusion(leaf, index, checkpoint.size, [b64(n) for n in answer["proof"]],
                                checkpoint.root_hash)
    # The proof can fail: another leaf's hash does not verify at this index.
    answer = client.get("/log/proof/inclusion?index=0").get_json()
    with pytest.raises(merkle.MerkleError):
        merkle.verify_inclusion(b64(entries[1]["leaf_hash"]), 0, checkpoint.size,
                                [b64(n) for n in answer["proof"]], checkpoint.root_hash)


def test_inclusion_in_an_older_tree_size(
    client: FlaskClient, session: Session, now: dt.datetime, logged: int
) -> None:
    old = signed_checkpoint(client)
    add_events(session, now, 5)
    response = client.get(f"/log/proof/inclusion?index=1&size={old.size}")
    assert response.headers["Cache-Control"].startswith("public")  # the sizes are named: final
    answer = response.get_json()
    assert answer["size"] == old.size and b64(answer["root_hash"]) == old.root_hash
    merkle.verify_inclusion(b64(answer["leaf_hash"]), 1, old.size, [b64(n) for n in answer["proof"]],
                            old.root_hash)


def test_a_consistency_proof_links_an_older_checkpoint_to_a_newer_one(
    client: FlaskClient, session: Session, now: dt.datetime, logged: int
) -> None:
    old = signed_checkpoint(client)
    world = make_world(session, now, keys=False)
    register(session, now, world, "L-NEW")
    add_events(session, now, 3)
    new = signed_checkpoint(client)
    assert new.size > old.size
    named, defaulted = f"from={old.size}&to={new.size}", f"from={old.size}"
    for url in (f"/log/proof/consistency?{named}", f"/log/proof/consistency?{defaulted}"):
        answer = client.get(url).get_json()
        assert (answer["from"], answer["to"]) == (old.size, new.size), url
        assert (b64(answer["root_from"]), b64(answer["root_to"])) == (old.root_hash, new.root_hash)
        proof = [b64(n) for n in answer["proof"]]
        merkle.verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)
    with pytest.raises(merkle.MerkleError):  # a forged newer root is caught
        merkle.verify_consistency(old.size, new.size, proof, old.root_hash, bytes(32))
    same = client.get(f"/log/proof/consistency?from={new.size}&to={new.size}").get_json()
    assert same["proof"] == [] and same["root_from"] == same["root_to"]
    # Every older size is consistent with the newest.
    for size in range(1, new.size):
        answer = client.get(f"/log/proof/consistency?from={size}&to={new.size}").get_json()
        merkle.verify_consistency(size, new.size, [b64(n) for n in answer["proof"]],
                                  b64(answer["root_from"]), new.root_hash)


# --- entries --------------------------------------------------------------------------------------


def test_entries_are_the_hashed_audit_events(client: FlaskClient, session: Session, logged: int) -> None:
    response = client.get("/log/entries")
    assert response.status_code == 200
    page = response.get_json()
    assert (page["start"], page["end"]) == (0, logged)  # end defaults to the size (below 100)
    assert [entry["index"] for entry in page["entries"]] == list(range(logged))
    for entry in page["entries"]:
        assert merkle.leaf_hash(entry["data"].encode("utf-8")) == b64(entry["leaf_hash"])
        event = session.get(AuditEvent, entry["event"]["id"])
        assert event is not None and event.canonical == entry["data"]
        data = json.loads(entry["data"])
        assert data["action"] == entry["event"]["action"] == event.action
        subject = {"type": entry["event"]["subject_type"], "key": entry["event"]["subject_key"]}
        assert data["subject"] == subject
        assert dt.datetime.fromisoformat(entry["event"]["occurred_at"]) == NOW
    assert client.get(f"/log/entries?start={logged}").get_json()["entries"] == []  # caught up
    one = client.get("/log/entries?start=2&end=3")
    assert [e["index"] for e in one.get_json()["entries"]] == [2]
    assert one.headers["Cache-Control"].startswith("public")


def test_entries_come_in_pages(client: FlaskClient, session: Session, now: dt.datetime, logged: int) -> None:
    add_events(session, now, 120)
    size = logged + 120
    first = client.get("/log/entries").get_json()
    assert (first["start"], first["end"], len(first["entries"])) == (0, 100, 100)
    rest = client.get("/log/entries?start=100").get_json()
    assert (rest["start"], rest["end"]) == (100, size)
    whole = client.get(f"/log/entries?start=0&end={size}").get_json()["entries"]
    assert whole == first["entries"] + rest["entries"]
    root = merkle.root_from_leaf_hashes([b64(e["leaf_hash"]) for e in whole])
    assert root == signed_checkpoint(client).root_hash


# --- bad input ------------------------------------------------------------------------------------

BAD = [  # (URL, with {size} for the log's size, the parameter the problem must name)
    ("/log/proof/inclusion", "index"),
    ("/log/proof/inclusion?index=abc", "index"),
    ("/log/proof/inclusion?index=-1", "index"),
    ("/log/proof/inclusion?index=1.5", "index"),
    ("/log/proof/inclusion?index=%2B1", "index"),
    ("/log/proof/inclusion?index=1_0", "index"),
    ("/log/proof/inclusion?index=1e3", "index"),
    ("/log/proof/inclusion?index=" + "9" * 400, "index"),
    ("/log/proof/inclusion?index=9223372036854775808", "index"),
    ("/log/proof/inclusion?index={size}", "index"),
    ("/log/proof/inclusion?index=2&size=2", "index"),
    ("/log/proof/inclusion?index=0&size=0", "size"),
    ("/log/proof/inclusion?index=0&size={size_plus_1}", "size"),
    ("/log/proof/inclusion?index=0&size=x", "size"),
    ("/log/proof/inclusion?index=0&bogus=1", "bogus"),
    ("/log/proof/consistency", "from"),
    ("/log/proof/consistency?from=0", "from"),
    ("/log/proof/consistency?from=x&to=2", "from"),
    ("/log/proof/consistency?from=3&to=2", "from"),
    ("/log/proof/consistency?from={size_plus_1}", "from"),
    ("/log/proof/consistency?from=1&to={size_plus_1}", "to"),
    ("/log/proof/consistency?from=1&to=-5", "to"),
    ("/log/proof/consistency?from=1&size=2", "size"),
    ("/log/entries?start=-1", "start"),
    ("/log/entries?start=x", "start"),
    ("/log/entries?start={size_plus_1}", "start"),
    ("/log/entries?start={size}&end={size_plus_1}", "start"),
    ("/log/entries?end=0", "end"),
    ("/log/entries?start=5&end=3", "end"),
    ("/log/entries?start=2&end=2", "end"),
    ("/log/entries?start=0&end=1001", "end"),
    ("/log/entries?start=0&end={size_plus_1}", "end"),
    ("/log/entries?limit=10", "limit"),
    ("/log/checkpoint?size=1", "size"),
    ("/log/key?format=json", "format"),
]


@pytest.mark.parametrize(("template", "parameter"), BAD)
@pytest.mark.parametrize("accept", ["*/*", "text/html"])
def test_bad_input_is_a_422_problem_naming_the_parameter(
    client: FlaskClient, logged: int, template: str, parameter: str, accept: str
) -> None:
    url = template.format(size=logged, size_plus_1=logged + 1)
    response = client.get(url, headers={"Accept": accept})
    assert response.status_code == 422, (url, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json", url
    problem = response.get_json()
    assert problem["code"] == "invalid_input" and problem["status"] == 422
    named = set(problem.get("errors", {})) | {problem.get("field")}
    assert parameter in named, (url, problem)


def test_past_the_end_names_the_parameter_given(client: FlaskClient, session: Session) -> None:
    size = translog.head(session).size  # a new registry: 0, unless migrations ever log something
    urls = (
        (f"/log/proof/inclusion?index={size}", "index"),
        (f"/log/proof/consistency?from={size + 1}", "from"),
    )
    for url, parameter in urls:  # not the size left out, which the log's size stood in for
        problem = client.get(url).get_json()
        assert problem["status"] == 422 and problem["field"] == parameter, problem
        assert f"the log's size {size}" in problem["detail"]
    assert client.get(f"/log/entries?start={size}").get_json() == {"start": size, "end": size, "entries": []}


# --- access, rate limit, OpenAPI --------------------------------------------------------------------


def test_every_log_route_is_public_and_read_only(app: Flask) -> None:
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("log.")]
    assert {rule.rule for rule in rules} == LOG_PATHS
    for rule in rules:
        assert access_of(app.view_functions[rule.endpoint]) == PUBLIC, rule.endpoint
        assert (rule.methods or set()) - {"HEAD", "OPTIONS"} == {"GET"}, rule.rule


def test_the_log_is_rate_limited_like_the_api(app_config: dict[str, object], logged: int) -> None:
    limited = create_app(app_config | {"RATELIMIT_ENABLED": True, "RATELIMIT_PUBLIC": "2 per minute"})
    client = limited.test_client()
    for _ in range(2):
        assert client.get("/log/proof/inclusion?index=0").status_code == 200
    response = client.get("/log/proof/inclusion?index=0", headers={"Accept": "*/*"})
    assert response.status_code == 429 and response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0


def _conforms(document: dict[str, Any], schema_name: str, instance: Any) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    OAS31Validator(schema).validate(instance)


def test_the_log_is_in_the_openapi_document(client: FlaskClient, logged: int) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert set(document["paths"]) >= LOG_PATHS
    expected_parameters = {
        "/log/proof/inclusion": {"index", "size"},
        "/log/proof/consistency": {"from", "to"},
        "/log/entries": {"start", "end"},
    }
    for path in LOG_PATHS:
        operation = document["paths"][path]["get"]
        assert operation["summary"] and "transparency log" in operation["tags"], path
        assert {"200", "422", "429"} <= set(operation["responses"]), path
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert expected_parameters.get(path, set()) <= names, path
    assert "503" in document["paths"]["/log/checkpoint"]["get"]["responses"]
    assert "text/plain" in document["paths"]["/log/checkpoint"]["get"]["responses"]["200"]["content"]
    _conforms(document, "LogInclusionProof", client.get("/log/proof/inclusion?index=0").get_json())
    _conforms(document, "LogConsistencyProof", client.get("/log/proof/consistency?from=1").get_json())
    _conforms(document, "LogEntries", client.get("/log/entries").get_json())
    _conforms(document, "Problem", client.get("/log/entries?start=x").get_json())
    with pytest.raises(Exception, match="leaf_hash"):  # the check can fail
        _conforms(document, "LogInclusionProof", {"index": 0, "size": 1, "proof": [], "root_hash": ""})


# --- configuration --------------------------------------------------------------------------------


def test_the_origin_defaults_to_the_public_host_and_can_be_set(
    app_config: dict[str, object], session: Session, logged: int
) -> None:
    assert create_app(app_config).config["LOG_ORIGIN"] == ORIGIN
    named = create_app(app_config | {"LOG_ORIGIN": "registry.example.cn/log"})
    client = named.test_client()
    key = NoteVerifier(client.get("/log/key").get_data(as_text=True).rstrip("\n"))
    assert key.name == "registry.example.cn/log"
    assert open_checkpoint(client.get("/log/checkpoint").data, key, "registry.example.cn/log").size == logged


@pytest.mark.parametrize("origin", ["registry log", "a+b", "log\x00x", "tab\there"])
def test_an_origin_that_is_no_key_name_stops_the_start(app_config: dict[str, object], origin: str) -> None:
    with pytest.raises(config.ConfigError, match="LOG_ORIGIN"):
        create_app(app_config | {"LOG_ORIGIN": origin})


def test_without_a_public_host_the_origin_is_still_fixed(app_config: dict[str, object]) -> None:
    # Not the request's Host: the name is signed into every checkpoint.
    assert create_app(app_config | {"PUBLIC_HOST": None}).config["LOG_ORIGIN"] == "registry-log"


# --- CLI (a throw-away SQLite file: the commands commit) ------------------------------------------


@pytest.fixture
def cli_app(tmp_path: Path) -> Iterator[Flask]:
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    flask_app = create_app({
        "TESTING": True, "SECRET_KEY": "test-only-secret", "DATABASE_URL": url,
        "RATELIMIT_ENABLED": False, "NOW": lambda: NOW, "PUBLIC_HOST": HOST,
        "SCAN_LOG_BATCH": 1,  # rows written at once: none left for exit, when the database is gone
    })
    yield flask_app
    dispose_app(flask_app)


def _run(flask_app: Flask, *args: str) -> tuple[int, str]:
    result = flask_app.test_cli_runner().invoke(args=["registry", "log", *args])
    return result.exit_code, result.output


def test_the_log_commands(cli_app: Flask) -> None:
    code, output = _run(cli_app, "key")
    assert code == 1 and "generate --purpose log" in output
    code, output = _run(cli_app, "checkpoint")
    assert code == 1 and "no active log key" in output
    result = cli_app.test_cli_runner().invoke(args=["registry", "keys", "generate", "--purpose", "log"])
    assert result.exit_code == 0, result.output
    code, key_line = _run(cli_app, "key")
    assert code == 0 and key_line.startswith(f"{ORIGIN}+")
    code, note = _run(cli_app, "checkpoint")
    assert code == 0, note
    checkpoint = open_checkpoint(note, NoteVerifier(key_line.strip()), ORIGIN)
    session: Session = cli_app.extensions["db_session_factory"]()
    try:
        assert checkpoint.size == translog.head(session).size >= 1  # at least the key's own event
        saved = session.scalar(select(LogCheckpoint.note))
        assert saved == note  # committed by the command
    finally:
        session.close()
    assert _run(cli_app, "checkpoint") == (0, note)  # the log did not grow: the same note


# --- demo -----------------------------------------------------------------------------------------


def test_the_demo_has_a_working_log(client: FlaskClient, session: Session, now: dt.datetime) -> None:
    load_demo(session, now)
    assert load_demo_certificates(session, now, PASSPHRASE).created
    assert keystore.active_record(session, "log") is not None
    session.commit()
    checkpoint = signed_checkpoint(client)
    assert checkpoint.size == translog.head(session).size > 20
    answer = client.get(f"/log/proof/inclusion?index={checkpoint.size - 1}").get_json()
    merkle.verify_inclusion(b64(answer["leaf_hash"]), checkpoint.size - 1, checkpoint.size,
                            [b64(n) for n in answer["proof"]], checkpoint.root_hash)
