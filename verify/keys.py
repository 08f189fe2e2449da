"""Ed25519 seal keys: key ids, the key ring with its states, JWKS (key files: verify.keyfiles).

Signing always uses ``cryptography``. Verification uses libsodium through PyNaCl when it is
importable, because it is about 1.6x faster than OpenSSL's Ed25519 verify on the bulk benchmark
(bench/verify_bench.py); both reject non-canonical signatures, so the verdict does not depend
on which one ran. Without PyNaCl, verification falls back to ``cryptography``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from verify.errors import (
    JwksError,
    KeyNoLongerValid,
    KeyRevoked,
    KeyRingError,
    UnknownKey,
)
from verify.keyfiles import (
    PASSPHRASE_ENV,
    PASSPHRASE_FILE_ENV,
    generate_passphrase,
    generate_private_key,
    load_private_key,
    passphrase_from_environment,
    private_key_from_pem,
    private_key_to_pem,
    public_key_from_pem,
    public_key_to_pem,
    save_private_key,
)
from verify.verified_seals import VerifiedSeals

__all__ = [  # key files live in verify.keyfiles; re-exported so callers need one import
    "PASSPHRASE_ENV",
    "PASSPHRASE_FILE_ENV",
    "KeyEntry",
    "KeyRing",
    "KeyState",
    "VerifiedSeals",
    "b64url",
    "b64url_decode",
    "generate_passphrase",
    "generate_private_key",
    "import_jwk",
    "import_jwks",
    "jwk",
    "key_id",
    "kid_hex",
    "load_private_key",
    "passphrase_from_environment",
    "private_key_from_pem",
    "private_key_to_pem",
    "public_key_from_pem",
    "public_key_to_pem",
    "raw_public_bytes",
    "save_private_key",
]

try:  # Optional fast path; see the module docstring.
    from nacl.bindings import crypto_sign_open as _sodium_open
    from nacl.exceptions import BadSignatureError as _SodiumBadSignature
except ImportError:  # pragma: no cover - exercised only where PyNaCl is absent
    _sodium_open = None  # type: ignore[assignment]

#: COSE algorithm identifier of EdDSA (RFC 9053 §2.2), the only one we sign or accept.
COSE_ALG_EDDSA = -8
KID_BYTES = 8

Verifier = Callable[[bytes, bytes], bool]


def key_id(public_key: Ed25519PublicKey) -> bytes:
    """The first 8 bytes of SHA-256 over the key's DER SubjectPublicKeyInfo."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()[:KID_BYTES]


def kid_hex(kid: bytes) -> str:
    """Key id for display and logs."""
    return kid.hex()


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2), as JWKS members use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`b64url`: refuses padding, other alphabets and non-canonical tails."""
    if not isinstance(text, str) or "=" in text or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError("not unpadded base64url") from exc
    if b64url(data) != text:
        raise ValueError("not canonical base64url")
    return data


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes_raw()


def _make_verifier(public_key: Ed25519PublicKey) -> Verifier:
    raw = public_key.public_bytes_raw()
    if _sodium_open is not None:
        sodium_open = _sodium_open

        def sodium_verify(signature: bytes, message: bytes) -> bool:
            try:
                sodium_open(signature + message, raw)
            except _SodiumBadSignature:
                return False
            return True

        return sodium_verify

    def openssl_verify(signature: bytes, message: bytes) -> bool:
        try:
            public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    return openssl_verify


class KeyState(enum.StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


def _aware(moment: dt.datetime | None, name: str) -> None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True)
class KeyEntry:
    """One key of the ring. ``private_key`` is None on verifiers (offline scanners, JWKS imports).

    ``not_before`` is when the key became active: seals dated earlier are refused, since the key
    did not exist yet.
    """

    public_key: Ed25519PublicKey
    state: KeyState
    not_before: dt.datetime
    retired_at: dt.datetime | None = None
    verify_until: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    private_key: Ed25519PrivateKey | None = field(default=None, repr=False, compare=False)
    #: How many verified seals to remember (:class:`VerifiedSeals`); 0, the default, for none.
    #: The registry's rings remember: a certificate's QR is printed on every box of its product,
    #: so the same seal is scanned again and again, and its signature is most of a scan's work.
    remember: int = field(default=0, repr=False, compare=False)
    kid: bytes = field(init=False)
    verifier: Verifier = field(init=False, repr=False, compare=False)
    verified: VerifiedSeals | None = field(init=False, repr=False, compare=False)
    _first_second: dt.datetime = field(init=False, repr=False, compare=False)
    #: COSE algorithm this key's type allows (only Ed25519 keys exist in a ring).
    algorithm: ClassVar[int] = COSE_ALG_EDDSA

    def __post_init__(self) -> None:
        for name in ("not_before", "retired_at", "verify_until", "revoked_at"):
            _aware(getattr(self, name), name)
        if self.state is KeyState.RETIRED and (self.retired_at is None or self.verify_until is None):
            raise KeyRingError("a retired key needs retired_at and verify_until")
        if self.state is KeyState.REVOKED and self.revoked_at is None:
            raise KeyRingError("a revoked key needs revoked_at")
        if self.private_key is not None and raw_public_bytes(self.private_key.public_key()) != (
            raw_public_bytes(self.public_key)
        ):
            raise KeyRingError("the private key does not match the public key")
        # Computed once: the hot verification path must not hash or load keys.
        object.__setattr__(self, "kid", key_id(self.public_key))
        object.__setattr__(self, "verifier", _make_verifier(self.public_key))
        object.__setattr__(self, "verified", VerifiedSeals(self.remember) if self.remember > 0 else None)
        # Seal times are whole seconds: a seal made in the key's first second is fine.
        object.__setattr__(self, "_first_second", self.not_before.replace(microsecond=0))

    def check_usable(self, issued_at: dt.datetime, now: dt.datetime) -> None:
        """Raise unless a seal dated ``issued_at`` under this key may be accepted at ``now``."""
        if self.state is KeyState.REVOKED:
            raise KeyRevoked(f"key {self.kid.hex()} was revoked", kid=self.kid)
        if issued_at < self._first_second:
            raise KeyNoLongerValid(f"seal dated before key {self.kid.hex()} existed", kid=self.kid)
        if self.state is KeyState.RETIRED:
            assert self.retired_at is not None and self.verify_until is not None
            if issued_at > self.retired_at:
                raise KeyNoLongerValid(f"seal dated after key {self.kid.hex()} was retired", kid=self.kid)
            if now > self.verify_until:
                raise KeyNoLongerValid(
                    f"key {self.kid.hex()} stopped verifying at {self.verify_until.isoformat()}", kid=self.kid
                )

    def public_only(self) -> KeyEntry:
        return dataclasses.replace(self, private_key=None)


class KeyRing:
    """The set of seal keys: at most one active (the signer), retired ones, revoked ones.

    Mutating methods take ``now`` explicitly (no hidden clock) and return the changed entry, so
    a caller persisting the ring (database rows, a bundle) can store exactly what changed.
    """

    def __init__(self, entries: Iterable[KeyEntry] = ()) -> None:
        self._entries: dict[bytes, KeyEntry] = {}
        for entry in entries:
            if entry.kid in self._entries:
                raise KeyRingError(f"key {entry.kid.hex()} appears twice")
            self._entries[entry.kid] = entry
        if sum(e.state is KeyState.ACTIVE for e in self._entries.values()) > 1:
            raise KeyRingError("a key ring has at most one active key")

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> tuple[KeyEntry, ...]:
        return tuple(self._entries.values())

    def get(self, kid: bytes) -> KeyEntry | None:
        return self._entries.get(kid)

    def active(self) -> KeyEntry | None:
        return next((e for e in self._entries.values() if e.state is KeyState.ACTIVE), None)

    def add(self, private_key: Ed25519PrivateKey, now: dt.datetime) -> KeyEntry:
        """Add the first (or, after a revocation of the active key, the next) active key."""
        _aware(now, "now")
        if self.active() is not None:
            raise KeyRingError("the ring already has an active key: rotate instead")
        entry = KeyEntry(private_key.public_key(), KeyState.ACTIVE, now, private_key=private_key)
        if entry.kid in self._entries:
            raise KeyRingError(f"key {entry.kid.hex()} is already in the ring")
        self._entries[entry.kid] = entry
        return entry

    def rotate(self, new_key: Ed25519PrivateKey, now: dt.datetime, verify_until: dt.datetime) -> KeyEntry:
        """Retire the active key (it keeps verifying older seals until ``verify_until``) and make
        ``new_key`` the signer. Returns the new active entry."""
        _aware(verify_until, "verify_until")
        if verify_until <= now:
            raise KeyRingError("verify_until must be after the rotation")
        current = self.active()
        if current is not None and current.kid == key_id(new_key.public_key()):
            raise KeyRingError("the new key is the active key")
        if current is not None:
            self._entries[current.kid] = dataclasses.replace(
                current, state=KeyState.RETIRED, retired_at=now, verify_until=verify_until
            )
        try:
            return self.add(new_key, now)
        except KeyRingError:
            if current is not None:
                self._entries[current.kid] = current
            raise

    def revoke(self, kid: bytes, now: dt.datetime) -> KeyEntry:
        """Revoke a key: all its seals are refused from now on. Revoking the active key leaves the
        ring without a signer until :meth:`add` is called (signing then fails loudly)."""
        _aware(now, "now")
        entry = self._entries.get(kid)
        if entry is None:
            raise KeyRingError(f"no key {kid.hex()} in the ring")
        if entry.state is KeyState.REVOKED:
            raise KeyRingError(f"key {kid.hex()} is already revoked")
        revoked = dataclasses.replace(entry, state=KeyState.REVOKED, revoked_at=now)
        self._entries[kid] = revoked
        return revoked

    def signer(self) -> KeyEntry:
        """The active entry with its private key, or :class:`KeyRingError`."""
        entry = self.active()
        if entry is None:
            raise KeyRingError("no active signing key")
        if entry.private_key is None:
            raise KeyRingError(f"the private part of key {entry.kid.hex()} is not loaded")
        return entry

    def check(self, kid: bytes, issued_at: dt.datetime, now: dt.datetime) -> KeyEntry:
        """The entry for ``kid`` if a seal dated ``issued_at`` may be accepted at ``now``."""
        entry = self._entries.get(kid)
        if entry is None:
            raise UnknownKey(f"unknown key {kid.hex()}", kid=kid)
        entry.check_usable(issued_at, now)
        return entry

    def public_only(self) -> KeyRing:
        return KeyRing(e.public_only() for e in self._entries.values())

    def jwks(self, now: dt.datetime) -> dict[str, Any]:
        """The JWKS to publish: keys that can still verify some seal at ``now`` (active, and
        retired before their ``verify_until``). Revoked keys are left out on purpose."""
        usable = [
            e
            for e in self._entries.values()
            if e.state is KeyState.ACTIVE
            or (e.state is KeyState.RETIRED and e.verify_until is not None and now <= e.verify_until)
        ]
        return {"keys": [jwk(e.public_key) for e in usable]}


# --- JWKS (RFC 7517 with RFC 8037 OKP keys) ----------------------------------------------------


def jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """One RFC 8037 JWK; ``kid`` is the base64url of :func:`key_id`."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(raw_public_bytes(public_key)),
        "kid": b64url(key_id(public_key)),
        "use": "sig",
        "alg": "EdDSA",
    }


def import_jwk(member: Any) -> Ed25519PublicKey:
    """Parse one Ed25519 JWK, checking that its ``kid`` is the one our rule derives."""
    if not isinstance(member, dict):
        raise JwksError("a JWK is a JSON object")
    if member.get("kty") != "OKP" or member.get("crv") != "Ed25519":
        raise JwksError("not an OKP Ed25519 key")
    if member.get("alg", "EdDSA") != "EdDSA" or member.get("use", "sig") != "sig":
        raise JwksError("an Ed25519 seal key must have alg EdDSA and use sig")
    if "d" in member:
        raise JwksError("refusing a JWK that carries a private key")
    try:
        raw = b64url_decode(member.get("x"))  # type: ignore[arg-type]
        public_key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise JwksError("x is not a base64url 32-byte Ed25519 public key") from exc
    if member.get("kid") != b64url(key_id(public_key)):
        raise JwksError("kid does not match the key (first 8 bytes of SHA-256 of its SPKI)")
    return public_key


def import_jwks(document: Any) -> dict[bytes, Ed25519PublicKey]:
    """Public keys of a JWKS by key id. Keys of other types are skipped (a later algorithm may
    be published beside ours); malformed Ed25519 keys are refused."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksError('a JWKS is an object with a "keys" array')
    keys: dict[bytes, Ed25519PublicKey] = {}
    for member in document["keys"]:
        if isinstance(member, dict) and (member.get("kty"), member.get("crv")) != ("OKP", "Ed25519"):
            continue
        public_key = import_jwk(member)
        keys[key_id(public_key)] = public_key
    return keys
