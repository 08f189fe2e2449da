"""Key and trust-bundle commands: ``registry keys ...``, ``registry bundle export``,
``registry verify-offline``.

Key commands read the key passphrase from ``SEAL_KEY_PASSPHRASE`` or the file named by
``SEAL_KEY_PASSPHRASE_FILE`` (``scripts/serve.sh`` generates one per install), commit once,
and roll back on any error.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import current_app

from app import clock
from app.cli import registry_cli, transaction
from app.signing import key_passphrase
from registry import bundle_export, keystore, seals
from registry.errors import RegistryError
from verify import cose
from verify.bundle import CONTENT_TYPE, load_and_verify
from verify.checkpoint import NoteKeyError, NoteVerifier
from verify.errors import BundleError, JwksError, KeyFileError, QrImageError
from verify.keys import import_jwks, public_key_from_pem
from verify.log_proof import LogProof, check_log_proof
from verify.offline import OfflineResult, OfflineVerifier
from verify.verdict import DEFAULT_GRACE_DAYS, VerdictCode

ACTOR = "cli"
PURPOSE = click.Choice(list(keystore.PURPOSES))


def passphrase() -> bytes:
    """The key passphrase: the environment first, then the app's ``SEAL_KEY_PASSPHRASE_FILE``."""
    return key_passphrase(current_app)  # type: ignore[arg-type]


def _describe(record: Any) -> str:
    parts = [
        f"{record.kid}  {record.purpose:<4}  {record.state:<7}  created {record.created_at:%Y-%m-%d %H:%M}"
    ]
    if record.retired_at is not None:
        parts.append(f"retired {record.retired_at:%Y-%m-%d}, verifies until {record.verify_until:%Y-%m-%d}")
    if record.revoked_at is not None:
        parts.append(f"revoked {record.revoked_at:%Y-%m-%d}: {record.revoked_reason}")
    return "; ".join(parts)


@registry_cli.group("keys")
def keys_group() -> None:
    """Signing keys: seal keys sign certificate seals, the root key signs trust bundles."""


@keys_group.command("generate")
@click.option("--purpose", type=PURPOSE, required=True, help="seal or root")
def generate_command(purpose: str) -> None:
    """Create the active key of a purpose (the first one, or after a revocation)."""
    secret = _passphrase_or_fail()
    with transaction() as session:
        record = keystore.generate_key(session, purpose, secret, actor=ACTOR, now=clock.now())
        line = _describe(record)
    click.echo(f"generated {line}")


@keys_group.command("rotate")
@click.option("--purpose", type=PURPOSE, default="seal", show_default=True)
@click.option("--verify-days", type=click.IntRange(min=1), default=5 * 365, show_default=True,
              help="How long the retired key keeps verifying the seals it signed.")
def rotate_command(purpose: str, verify_days: int) -> None:
    """Retire the active key (it keeps verifying its seals) and make a new one active."""
    secret = _passphrase_or_fail()
    now = clock.now()
    with transaction() as session:
        verify_until = now + dt.timedelta(days=verify_days)
        record = keystore.rotate_key(
            session, purpose, secret, actor=ACTOR, now=now, verify_until=verify_until
        )
        line = _describe(record)
    click.echo(f"rotated: new active key {line}")


@keys_group.command("revoke")
@click.argument("kid")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
def revoke_command(kid: str, reason: str) -> None:
    """Revoke a key: every seal it signed is refused from now on."""
    with transaction() as session:
        record = keystore.revoke_key(session, kid, reason, actor=ACTOR, now=clock.now())
        line = _describe(record)
    click.echo(f"revoked {line}")
    if record.purpose == "seal":
        click.echo(
            "seals signed with it now verify as KEY_REVOKED: `registry keys generate --purpose seal` "
            f"if it was the active key, then `registry keys reseal {record.kid}`."
        )


@keys_group.command("reseal")
@click.argument("kid")
def reseal_command(kid: str) -> None:
    """Re-seal, with the active key, every certificate whose latest seal KID signed."""
    secret = _passphrase_or_fail()
    with transaction() as session:
        issued = seals.reissue_seals(session, kid, now=clock.now(), passphrase=secret, actor=ACTOR)
    click.echo(f"{len(issued)} certificate(s) re-sealed")


@keys_group.command("list")
def list_command() -> None:
    """List every key with its state and validity window."""
    with transaction() as session:
        lines = [_describe(record) for record in keystore.list_keys(session)]
    click.echo("\n".join(lines) if lines else "no keys yet: registry keys generate --purpose seal|root")


@keys_group.command("export-root")
@click.argument("outfile", type=click.Path(dir_okay=False, path_type=Path))
def export_root_command(outfile: Path) -> None:
    """Write the active root public key (PEM) that offline verifiers check bundles with."""
    with transaction() as session:
        pem = keystore.root_public_pem(session)
    outfile.write_bytes(pem)
    click.echo(f"root public key written to {outfile}")


@registry_cli.group("bundle")
def bundle_group() -> None:
    """Trust bundles for offline scanners."""


@bundle_group.command("export")
@click.argument("outfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--valid-days", type=click.IntRange(min=1, max=90), default=7, show_default=True)
@click.option("--with-registered", is_flag=True,
              help="Also list every registered certificate (offline NOT_REGISTERED becomes possible).")
@click.option("--root-key-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the root public key (PEM) here.")
def export_command(outfile: Path, valid_days: int, with_registered: bool, root_key_out: Path | None) -> None:
    """Write a signed trust bundle (root key) to OUTFILE."""
    secret = _passphrase_or_fail()
    with transaction() as session:
        data = bundle_export.build_trust_bundle(
            session, now=clock.now(), passphrase=secret, valid_for=dt.timedelta(days=valid_days),
            include_registered=with_registered,
        )
        sequence = bundle_export.bundle_sequence(session)
        pem = keystore.root_public_pem(session) if root_key_out is not None else None
    outfile.write_bytes(data)
    click.echo(f"trust bundle {sequence} ({len(data)} bytes, valid {valid_days} days) written to {outfile}")
    if root_key_out is not None and pem is not None:
        root_key_out.write_bytes(pem)
        click.echo(f"root public key written to {root_key_out}")


def _passphrase_or_fail() -> bytes:
    try:
        return passphrase()
    except RegistryError as exc:
        raise click.ClickException(exc.message) from exc


# --- offline verification (no database) ---------------------------------------------------------


def _root_key(path: Path, bundle_data: bytes) -> Ed25519PublicKey:
    """The root key from a PEM file, or from a JWKS file (the member whose kid signed the bundle)."""
    raw = path.read_bytes()
    try:
        if raw.lstrip().startswith(b"{"):
            keys = import_jwks(json.loads(raw))
            try:
                wanted = cose.parse_sign1(bundle_data, content_type=CONTENT_TYPE).kid
            except ValueError:
                wanted = b""
            chosen = keys.get(wanted) or next(iter(keys.values()), None)
            if chosen is None:
                raise click.ClickException(f"{path} holds no Ed25519 key")
            return chosen
        return public_key_from_pem(raw)
    except (ValueError, JwksError, KeyFileError) as exc:
        raise click.ClickException(f"{path} is not a root public key (PEM or JWKS): {exc}") from exc


def _print_result(result: OfflineResult) -> None:
    verdict = result.verdict
    age_en, age_zh = result.age_text
    note_en, note_zh = result.note
    warning = " (warning)" if verdict.severity.value == "warning" else ""
    click.echo(f"verdict: {verdict.code.value}{warning}")
    click.echo(f"reason: {verdict.reason_en}")
    click.echo(f"原因: {verdict.reason_zh}")
    if verdict.claims is not None:
        claims = verdict.claims
        click.echo(
            f"certificate: {claims.body_code} {claims.certificate_number} ({claims.category}, "
            f"{claims.jurisdiction}), issued {claims.issue_date}, expires {claims.expiry_date}"
        )
    click.echo(
        f"trust bundle {result.bundle_sequence}: issued {result.bundle_issued_at:%Y-%m-%d %H:%M} UTC, "
        f"{age_en} old / 信任包已生成{age_zh}; expires {result.bundle_expires_at:%Y-%m-%d %H:%M} UTC"
    )
    if verdict.claims is not None:  # how registration was established matters only then
        click.echo(f"{note_en} / {note_zh}")


@registry_cli.command("verify-offline")
@click.option("--bundle", "bundle_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="A trust bundle from `registry bundle export`.")
@click.option("--root-key", "root_key_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The registry root public key (PEM, or a JWKS).")
@click.option("--qr", "qr_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A photo or scan of the QR code instead of TOKEN_OR_URL.")
@click.option("--grace-days", type=click.IntRange(min=0), default=None,
              help=f"Grace period after a body's authorization ended (default {DEFAULT_GRACE_DAYS}).")
@click.option("--log-proof", "log_proof_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The `log` object of a verification answer asked with log_proof (JSON), to check too.")
@click.option("--log-key", help="The log's verifier key, as GET /log/key prints it (with --log-proof).")
@click.argument("token_or_url", required=False)
def verify_offline_command(
    bundle_path: Path,
    root_key_path: Path,
    qr_path: Path | None,
    grace_days: int | None,
    log_proof_path: Path | None,
    log_key: str | None,
    token_or_url: str | None,
) -> None:
    """Verify a seal against a downloaded trust bundle, without the server. Exit code 0 for
    VALID, 1 for anything else (a log proof given that does not hold included)."""
    if (log_proof_path is None) != (log_key is None):
        raise click.UsageError("--log-proof and --log-key go together")
    if (qr_path is None) == (token_or_url is None):
        raise click.UsageError("give either TOKEN_OR_URL or --qr IMAGE")
    now = clock.now()
    data = bundle_path.read_bytes()
    if grace_days is None:
        grace_days = int(current_app.config.get("VERIFY_GRACE_DAYS", DEFAULT_GRACE_DAYS))
    try:
        bundle = load_and_verify(data, _root_key(root_key_path, data), now)
        verifier = OfflineVerifier(bundle, grace_days=grace_days)
        run: Callable[[], OfflineResult] = (
            (lambda: verifier.verify_image(qr_path, now)) if qr_path is not None
            else (lambda: verifier.verify_scanned(token_or_url or "", now))
        )
        result = run()
    except BundleError as exc:
        raise click.ClickException(f"trust bundle refused: {exc.message}") from exc
    except QrImageError as exc:
        raise click.ClickException(f"cannot read a QR code in {qr_path}: {exc}") from exc
    _print_result(result)
    log_ok = True
    if log_proof_path is not None and log_key is not None:
        log_ok = _check_log(log_proof_path, log_key, result)
    if result.verdict.code is not VerdictCode.VALID or not log_ok:
        raise SystemExit(1)


def _check_log(path: Path, key: str, result: OfflineResult) -> bool:
    """Check the certificate's log proof; print the outcome; False when it does not hold."""
    claims = result.verdict.claims
    if claims is None:
        click.echo("log: not checked (the seal cannot be believed)")
        return False
    try:
        proof = LogProof.from_json(json.loads(path.read_text(encoding="utf-8")))
        checkpoint = check_log_proof(
            proof, NoteVerifier(key.strip()), body_code=claims.body_code, number=claims.certificate_number
        )
    except (ValueError, NoteKeyError) as exc:  # LogProofError and JSON errors are ValueErrors
        click.echo(f"log: REFUSED: {exc}")
        return False
    click.echo(f"log: entry #{proof.index} is in the log of {checkpoint.size} entries signed by "
               f"{checkpoint.origin} (checkpoint verified)")
    return True

