"""``registry keys``, ``registry bundle export`` and ``registry verify-offline`` on a throw-away SQLite
file: the commands commit, so they must not touch the shared test database."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import create_app
from app.database import dispose as dispose_app
from registry import keystore, migrate, seals, translog, verification
from registry.db import make_engine
from registry.models import AuditEvent, SigningKeyRecord
from tests.conftest import NOW
from tests.unit.seal_support import PASSPHRASE, make_world, register
from verify import qr
from verify.keys import jwk, public_key_from_pem, public_key_to_pem


@pytest.fixture
def cli_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("SEAL_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.delenv("SEAL_KEY_PASSPHRASE_FILE", raising=False)
    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    flask_app = create_app({
        "TESTING": True, "SECRET_KEY": "test-only-secret", "DATABASE_URL": url,
        "RATELIMIT_ENABLED": False, "NOW": lambda: NOW, "PUBLIC_HOST": "verify.example.cn",
        "SCAN_LOG_BATCH": 1,  # rows written at once: none left for exit, when the database is gone
    })
    flask_app.instance_path = str(tmp_path / "instance")
    yield flask_app
    dispose_app(flask_app)


def _session(flask_app: Flask) -> Session:
    session: Session = flask_app.extensions["db_session_factory"]()
    return session


def _run(flask_app: Flask, *args: str) -> tuple[int, str]:
    result = flask_app.test_cli_runner().invoke(args=["registry", *args])
    return result.exit_code, result.output


def test_key_lifecycle_commands(cli_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = _run(cli_app, "keys", "generate", "--purpose", "seal")
    assert code == 0, output
    first = re.search(r"generated ([0-9a-f]{16})  seal", output)
    assert first is not None
    assert _run(cli_app, "keys", "generate", "--purpose", "root")[0] == 0
    code, output = _run(cli_app, "keys", "generate", "--purpose", "seal")
    assert code == 1 and "rotate" in output

    code, output = _run(cli_app, "keys", "rotate", "--purpose", "seal", "--verify-days", "30")
    assert code == 0 and "new active key" in output, output
    # The key id as the API and the JWKS show it (base64url of the same 8 bytes) names it too.
    shown = base64.urlsafe_b64encode(bytes.fromhex(first.group(1))).rstrip(b"=").decode()
    code, output = _run(cli_app, "keys", "revoke", shown, "--reason", "laptop stolen")
    assert code == 0 and "KEY_REVOKED" in output, output
    assert _run(cli_app, "keys", "reseal", first.group(1)) == (0, "0 certificate(s) re-sealed\n")
    assert _run(cli_app, "keys", "reseal", shown) == (0, "0 certificate(s) re-sealed\n")
    code, output = _run(cli_app, "keys", "revoke", "AAAAAAAAAAA", "--reason", "no such key")
    assert code == 1 and "no signing key" in output, output
    code, output = _run(cli_app, "keys", "list")
    assert code == 0
    assert re.search(rf"{first.group(1)}  seal  revoked .*verifies until 2026-07-15.*laptop stolen", output)
    assert len(re.findall(r"  active ", output)) == 2  # the new seal key and the root key

    with _session(cli_app) as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "cli")))
        assert actions == ["key:add", "key:add", "key:rotate", "key:revoke"]
        pems = session.scalars(select(SigningKeyRecord.encrypted_private_key))
        assert all((pem or "").startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----") for pem in pems)

    monkeypatch.delenv("SEAL_KEY_PASSPHRASE")
    code, output = _run(cli_app, "keys", "rotate", "--purpose", "seal")
    assert code == 1 and "SEAL_KEY_PASSPHRASE" in output
    monkeypatch.setenv("SEAL_KEY_PASSPHRASE", "a-different-passphrase-0123456789")
    code, output = _run(cli_app, "bundle", "export", "/dev/null")
    assert code == 1 and "decrypt" in output


def test_bundle_export_and_offline_verification(cli_app: Flask, tmp_path: Path) -> None:
    with _session(cli_app) as session:
        world = make_world(session, NOW)
        certificate = register(session, NOW, world, "C-1")
        valid = seals.issue_seal(session, certificate, now=NOW, passphrase=PASSPHRASE)
        url = seals.seal_url("verify.example.cn", valid.token)
        session.commit()
    bundle, root = tmp_path / "bundle.cose", tmp_path / "root.pem"
    code, output = _run(cli_app, "bundle", "export", str(bundle), "--root-key-out", str(root))
    assert code == 0 and bundle.stat().st_size > 0 and "valid 7 days" in output, output

    def verify(*args: str) -> tuple[int, str]:
        return _run(cli_app, "verify-offline", "--bundle", str(bundle), "--root-key", str(root), *args)

    code, output = verify(url)
    assert code == 0, output
    assert "verdict: VALID" in output and "reason: Genuine seal" in output and "原因: 真实印章" in output
    assert "0 min old" in output and "C-1" in output
    code, output = verify(url[:-3] + ("A" if url[-3] != "A" else "B") + url[-2:])
    assert code == 1 and "verdict: FORGED" in output

    image = tmp_path / "seal.png"
    image.write_bytes(qr.render_label_png(url, "C-1"))
    assert verify("--qr", str(image))[0] == 0
    not_an_image = tmp_path / "note.txt"
    not_an_image.write_text("hello", encoding="utf-8")
    code, output = verify("--qr", str(not_an_image))
    assert code == 1 and "cannot read a QR code" in output
    code, output = verify()
    assert code == 2 and "TOKEN_OR_URL" in output

    # The certificate's log entry, as the verification API returns it with log_proof, checks too.
    origin = "verify.example.cn/registry-log"
    with _session(cli_app) as session:
        keystore.generate_key(session, "log", PASSPHRASE, actor="test", now=NOW)
        index = translog.head(session).size - 2  # the seal's leaf (the key's own comes after)
        checkpoint = translog.publish_checkpoint(session, now=NOW, origin=origin, passphrase=PASSPHRASE)
        proof = translog.log_proof(session, index, checkpoint)
        key = translog.log_verifier(session, origin, NOW).key_string()
        session.commit()
    proof_file = tmp_path / "log.json"
    proof_file.write_text(json.dumps(proof.as_json()), encoding="utf-8")
    code, output = verify(url, "--log-proof", str(proof_file), "--log-key", key)
    assert code == 0 and f"log: entry #{index} is in the log" in output, output
    proof_file.write_text(json.dumps({**proof.as_json(), "index": index - 1}), encoding="utf-8")
    code, output = verify(url, "--log-proof", str(proof_file), "--log-key", key)
    assert code == 1 and "log: REFUSED" in output
    assert verify(url, "--log-proof", str(proof_file))[0] == 2  # the key goes with the proof

    # A JWKS of the root key works as well; another key is refused.
    jwks = tmp_path / "root.jwks"
    jwks.write_text(json.dumps({"keys": [jwk(public_key_from_pem(root.read_bytes()))]}), encoding="utf-8")
    assert _run(cli_app, "verify-offline", "--bundle", str(bundle), "--root-key", str(jwks), url)[0] == 0
    with _session(cli_app) as session:
        seal_key = keystore.load_ring(session, "seal").active()
        assert seal_key is not None
    other = tmp_path / "seal.pem"
    other.write_bytes(public_key_to_pem(seal_key.public_key))
    code, output = _run(cli_app, "verify-offline", "--bundle", str(bundle), "--root-key", str(other), url)
    assert code == 1 and "trust bundle refused" in output


def test_demo_command_prints_a_seal_that_verifies(cli_app: Flask) -> None:
    code, output = _run(cli_app, "demo")
    assert code == 0, output
    assert "20 demo certificates with seals" in output
    found = re.search(r"\(VALID\): (HTTPS://VERIFY\.EXAMPLE\.CN/V/[A-Z2-7]+)", output)
    assert found is not None, output
    with _session(cli_app) as session:  # the demo command reads the real clock
        result = verification.verify_scanned(session, found.group(1), now=dt.datetime.now(dt.UTC))
        assert result.code == "VALID"
    code, again = _run(cli_app, "demo")
    assert code == 0 and "already holds certificates" in again
