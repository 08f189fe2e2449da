"""Encrypted private-key files (PKCS#8 PEM, BestAvailableEncryption) and their passphrase.

Private keys never touch the disk unencrypted: saving always encrypts, and loading refuses a key
that is not encrypted. The passphrase is machine-generated (:func:`generate_passphrase`) and read
from the environment or a secret file (:func:`passphrase_from_environment`), never typed.
Re-exported by ``verify.keys``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from verify.errors import KeyFileError

#: Environment variables the CLI reads the key passphrase from (the value, or a file holding it).
PASSPHRASE_ENV = "SEAL_KEY_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
PASSPHRASE_FILE_ENV = "SEAL_KEY_PASSPHRASE_FILE"  # noqa: S105


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def generate_passphrase() -> str:
    """A machine-generated passphrase (256 bits of randomness), never a human password."""
    return secrets.token_urlsafe(32)


def passphrase_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The key passphrase from ``SEAL_KEY_PASSPHRASE`` or the file named by
    ``SEAL_KEY_PASSPHRASE_FILE`` (e.g. a container secret); :class:`KeyFileError` if neither."""
    env = os.environ if environ is None else environ
    if env.get(PASSPHRASE_ENV):
        return env[PASSPHRASE_ENV]
    if env.get(PASSPHRASE_FILE_ENV):
        try:
            text = Path(env[PASSPHRASE_FILE_ENV]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise KeyFileError(f"cannot read the passphrase file: {exc.strerror}") from exc
        if text:
            return text
    raise KeyFileError(f"set {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV}")


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    data = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    if len(data) < 16:
        raise KeyFileError("the passphrase is too short: use generate_passphrase()")
    return data


def private_key_to_pem(private_key: Ed25519PrivateKey, passphrase: str | bytes) -> bytes:
    """PKCS#8 PEM encrypted with the library's best available scheme."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_passphrase_bytes(passphrase)),
    )


def private_key_from_pem(pem: bytes, passphrase: str | bytes) -> Ed25519PrivateKey:
    """Load an encrypted PKCS#8 PEM. Unencrypted keys, wrong passphrases and other key types are
    refused with :class:`KeyFileError`."""
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in pem:
        raise KeyFileError("refusing a private key that is not encrypted PKCS#8")
    try:
        key = serialization.load_pem_private_key(pem, password=_passphrase_bytes(passphrase))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError("cannot decrypt the private key (wrong passphrase or damaged file)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError("the private key is not an Ed25519 key")
    return key


def save_private_key(path: Path, private_key: Ed25519PrivateKey, passphrase: str | bytes) -> None:
    """Write the encrypted key readable by its owner only; refuses to overwrite a file."""
    pem = private_key_to_pem(private_key, passphrase)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def load_private_key(path: Path, passphrase: str | bytes) -> Ed25519PrivateKey:
    return private_key_from_pem(Path(path).read_bytes(), passphrase)


def public_key_to_pem(public_key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM, e.g. the root key handed to offline verifiers."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_from_pem(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError("not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError("the public key is not an Ed25519 key")
    return key
