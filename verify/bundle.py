"""Trust bundle for offline scanners: everything needed to reach the server's verdict without it.

Format: a COSE_Sign1 (the same strict code as seals, see ``verify.cose``) with protected header
``{1: -8 (EdDSA), 3: CONTENT_TYPE, 4: root key id}`` over a CBOR map with text keys. Chosen over
signed JSON because it reuses the one Ed25519 envelope we already verify strictly (no JSON
canonicalization to get right, no second signature format to audit), carries key bytes without
base64, and stays compact with tens of thousands of withdrawn-certificate ids. The content type
keeps a seal and a bundle from ever being mistaken for each other, and the bundle is signed by a
separate registry ROOT key, never by a seal key.

Contents: bodies with their authorization lines and status periods, the seal keys with their
states and validity windows, the withdrawn and suspended certificate ids, optionally the ids of
all registered certificates, a sequence number (refuse rollbacks with ``min_sequence``),
``issued_at`` and ``expires_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from verify import cose
from verify.authority import (
    STORED_STATUSES,
    AuthorizationFacts,
    AuthorizationLine,
    StatusPeriod,
    authorization_facts,
)
from verify.claims import Claims
from verify.errors import (
    BundleExpired,
    BundleMalformed,
    BundleNotYetValid,
    BundleRollback,
    BundleSignatureInvalid,
)
from verify.keys import KeyEntry, KeyRing, KeyState, key_id
from verify.verdict import CertificateState

CONTENT_TYPE = "application/vnd.epi-registry.trust-bundle+cbor"
FORMAT = "epi-trust-bundle/1"
DEFAULT_VALIDITY = dt.timedelta(days=7)
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"

CertificateId = tuple[str, str]  # (body code, certificate number)


@dataclass(frozen=True)
class TrustBundle:
    """A trust bundle, built by the registry or loaded (and verified) by a scanner.

    ``registered`` is None when the bundle does not list every registered certificate; then the
    offline verifier cannot say NOT_REGISTERED (see ``verify.offline``).
    """

    sequence: int
    issued_at: dt.datetime
    expires_at: dt.datetime
    bodies: Mapping[str, tuple[AuthorizationLine, ...]]
    keys: tuple[KeyEntry, ...]
    withdrawn: frozenset[CertificateId] = frozenset()
    suspended: frozenset[CertificateId] = frozenset()
    registered: frozenset[CertificateId] | None = field(default=None)

    @cached_property
    def ring(self) -> KeyRing:
        """The seal keys as a verify-only ring (built once per bundle)."""
        return KeyRing(self.keys)

    def age(self, now: dt.datetime) -> dt.timedelta:
        return now - self.issued_at

    def certificate_state(self, claims: Claims) -> CertificateState | None:
        """Status from the lists, expiry from the seal. None only when the bundle lists every
        registered certificate, this one is absent, and the seal predates the bundle."""
        key = claims.certificate_key
        if key in self.withdrawn:
            return CertificateState("withdrawn", claims.expiry_date)
        if key in self.suspended:
            return CertificateState("suspended", claims.expiry_date)
        if self.registered is not None and key not in self.registered and claims.issued_at <= self.issued_at:
            return None
        return CertificateState("valid", claims.expiry_date)

    def authorization_facts(self, claims: Claims, today: dt.date) -> AuthorizationFacts:
        lines = self.bodies.get(claims.body_code, ())
        return authorization_facts(lines, claims.category, claims.jurisdiction, claims.issue_date, today)


def build_bundle(
    *,
    sequence: int,
    now: dt.datetime,
    bodies: Mapping[str, Iterable[AuthorizationLine]],
    keys: KeyRing | Iterable[KeyEntry],
    withdrawn: Iterable[CertificateId] = (),
    suspended: Iterable[CertificateId] = (),
    registered: Iterable[CertificateId] | None = None,
    valid_for: dt.timedelta = DEFAULT_VALIDITY,
) -> TrustBundle:
    """Assemble a bundle issued at ``now`` and valid for ``valid_for``. Private keys are dropped."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if sequence < 0 or valid_for <= dt.timedelta(0):
        raise ValueError("sequence must be >= 0 and valid_for positive")
    entries = keys.entries() if isinstance(keys, KeyRing) else tuple(keys)
    issued_at = now.astimezone(dt.UTC)
    return TrustBundle(
        sequence=sequence,
        issued_at=issued_at,
        expires_at=issued_at + valid_for,
        bodies={code: tuple(lines) for code, lines in sorted(bodies.items())},
        keys=tuple(e.public_only() for e in entries),
        withdrawn=frozenset(withdrawn),
        suspended=frozenset(suspended),
        registered=None if registered is None else frozenset(registered),
    )


# --- encoding ----------------------------------------------------------------------------------------


def _stamp(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).strftime(_STAMP)


def _day(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _ids(ids: Iterable[CertificateId]) -> list[list[str]]:
    return [list(pair) for pair in sorted(ids)]


def bundle_payload(bundle: TrustBundle) -> bytes:
    """Deterministic CBOR of the bundle's contents (what gets signed)."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "sequence": bundle.sequence,
        "issued_at": _stamp(bundle.issued_at),
        "expires_at": _stamp(bundle.expires_at),
        "keys": [
            {
                "kid": e.kid,
                "x": e.public_key.public_bytes_raw(),
                "state": e.state.value,
                "not_before": _stamp(e.not_before),
                "retired_at": _stamp(e.retired_at),
                "verify_until": _stamp(e.verify_until),
                "revoked_at": _stamp(e.revoked_at),
            }
            for e in bundle.keys
        ],
        "bodies": [
            {
                "code": code,
                "authorizations": [
                    {
                        "category": line.category,
                        "jurisdiction": line.jurisdiction,
                        "scheme": line.scheme,
                        "valid_from": _day(line.valid_from),
                        "valid_until": _day(line.valid_until),
                        "periods": [
                            [p.status, _day(p.effective_from), _day(p.effective_until)] for p in line.periods
                        ],
                    }
                    for line in lines
                ],
            }
            for code, lines in sorted(bundle.bodies.items())
        ],
        "withdrawn": _ids(bundle.withdrawn),
        "suspended": _ids(bundle.suspended),
        "registered": None if bundle.registered is None else _ids(bundle.registered),
    }
    return cbor2.dumps(document, canonical=True)


def sign_bundle(bundle: TrustBundle, root_private_key: Ed25519PrivateKey) -> bytes:
    """The signed bundle file: COSE_Sign1 by the registry root key."""
    root_kid = key_id(root_private_key.public_key())
    return cose.sign1(root_private_key, root_kid, bundle_payload(bundle), content_type=CONTENT_TYPE)


# --- decoding ----------------------------------------------------------------------------------------


def _expect(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BundleMalformed(f"{what} has the wrong type")
    return value


def _parse_stamp(value: Any, what: str, optional: bool = False) -> dt.datetime | None:
    if value is None and optional:
        return None
    try:
        return dt.datetime.strptime(_expect(value, str, what), _STAMP).replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise BundleMalformed(f"{what} is not a UTC timestamp") from exc


def _parse_day(value: Any, what: str, optional: bool = False) -> dt.date | None:
    if value is None and optional:
        return None
    try:
        return dt.date.fromisoformat(_expect(value, str, what))
    except ValueError as exc:
        raise BundleMalformed(f"{what} is not a date") from exc


def _parse_ids(value: Any, what: str) -> frozenset[CertificateId]:
    ids = set()
    for pair in _expect(value, list, what):
        if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(p, str) for p in pair):
            raise BundleMalformed(f"{what} holds a malformed certificate id")
        ids.add((pair[0], pair[1]))
    return frozenset(ids)


def _parse_key(item: Any) -> KeyEntry:
    item = _expect(item, dict, "a key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(_expect(item["x"], bytes, "key x"))
        entry = KeyEntry(
            public_key,
            KeyState(item["state"]),
            _parse_stamp(item["not_before"], "not_before"),  # type: ignore[arg-type]
            retired_at=_parse_stamp(item["retired_at"], "retired_at", optional=True),
            verify_until=_parse_stamp(item["verify_until"], "verify_until", optional=True),
            revoked_at=_parse_stamp(item["revoked_at"], "revoked_at", optional=True),
        )
    except (KeyError, ValueError) as exc:
        raise BundleMalformed(f"malformed key: {exc}") from exc
    if entry.kid != item.get("kid"):
        raise BundleMalformed("a key's kid does not match its public key")
    return entry


def _parse_line(item: Any) -> AuthorizationLine:
    item = _expect(item, dict, "an authorization")
    try:
        periods = []
        for period in _expect(item["periods"], list, "periods"):
            if not isinstance(period, list) or len(period) != 3 or period[0] not in STORED_STATUSES:
                raise BundleMalformed("malformed status period")
            periods.append(
                StatusPeriod(
                    period[0],
                    _parse_day(period[1], "effective_from"),  # type: ignore[arg-type]
                    _parse_day(period[2], "effective_until", optional=True),
                )
            )
        return AuthorizationLine(
            category=_expect(item["category"], str, "category"),
            jurisdiction=_expect(item["jurisdiction"], str, "jurisdiction"),
            scheme=_expect(item["scheme"], str, "scheme"),
            valid_from=_parse_day(item["valid_from"], "valid_from"),  # type: ignore[arg-type]
            valid_until=_parse_day(item["valid_until"], "valid_until", optional=True),
            periods=tuple(periods),
        )
    except KeyError as exc:
        raise BundleMalformed(f"an authorization lacks {exc}") from exc


def decode_bundle_payload(payload: bytes) -> TrustBundle:
    """Parse the (already authenticated) payload; :class:`BundleMalformed` on any deviation."""
    try:
        document = cose.strict_loads(payload, max_depth=10)
    except cose.CoseFormatError as exc:
        raise BundleMalformed(str(exc)) from exc
    document = _expect(document, dict, "the bundle")
    try:
        canonical = cbor2.dumps(document, canonical=True) == payload
    except (cbor2.CBORError, ValueError, TypeError) as exc:
        raise BundleMalformed("the bundle cannot be re-encoded") from exc
    if not canonical:
        raise BundleMalformed("the bundle is not deterministically encoded (or has trailing bytes)")
    if document.get("format") != FORMAT:
        raise BundleMalformed(f"unknown bundle format {document.get('format')!r}")
    try:
        bodies: dict[str, tuple[AuthorizationLine, ...]] = {}
        for body in _expect(document["bodies"], list, "bodies"):
            body = _expect(body, dict, "a body")
            lines = _expect(body["authorizations"], list, "authorizations")
            bodies[_expect(body["code"], str, "body code")] = tuple(_parse_line(line) for line in lines)
        registered = document["registered"]
        bundle = TrustBundle(
            sequence=_expect(document["sequence"], int, "sequence"),
            issued_at=_parse_stamp(document["issued_at"], "issued_at"),  # type: ignore[arg-type]
            expires_at=_parse_stamp(document["expires_at"], "expires_at"),  # type: ignore[arg-type]
            bodies=bodies,
            keys=tuple(_parse_key(item) for item in _expect(document["keys"], list, "keys")),
            withdrawn=_parse_ids(document["withdrawn"], "withdrawn"),
            suspended=_parse_ids(document["suspended"], "suspended"),
            registered=None if registered is None else _parse_ids(registered, "registered"),
        )
        bundle.ring  # noqa: B018 - builds the ring now, so a bundle with two active keys is refused here
    except KeyError as exc:
        raise BundleMalformed(f"the bundle lacks {exc}") from exc
    except ValueError as exc:  # KeyRingError and friends
        raise BundleMalformed(str(exc)) from exc
    return bundle


def load_and_verify(
    data: bytes,
    root_public_key: Ed25519PublicKey,
    now: dt.datetime,
    *,
    min_sequence: int | None = None,
    max_clock_skew: dt.timedelta = MAX_CLOCK_SKEW,
) -> TrustBundle:
    """Verify a signed bundle with the registry root key and return it.

    Raises BundleMalformed, BundleSignatureInvalid (other key or bad signature), BundleExpired,
    BundleNotYetValid, or BundleRollback (sequence below ``min_sequence``, the last one the
    scanner accepted). Dates are only looked at once the signature holds.
    """
    try:
        message = cose.parse_sign1(data, content_type=CONTENT_TYPE)
    except (cose.CoseFormatError, cose.CoseAlgorithmError) as exc:
        raise BundleMalformed(f"not a signed trust bundle: {exc}") from exc
    if message.kid != key_id(root_public_key):
        raise BundleSignatureInvalid("the bundle is signed by another key than the registry root key")
    if not KeyEntry(root_public_key, KeyState.ACTIVE, now).verifier(message.signature, message.to_be_signed):
        raise BundleSignatureInvalid("the bundle's signature does not verify")
    bundle = decode_bundle_payload(message.payload)
    if bundle.issued_at > now + max_clock_skew:
        raise BundleNotYetValid(
            f"bundle {bundle.sequence} is dated in the future ({bundle.issued_at:%Y-%m-%d %H:%M} UTC)"
        )
    if now > bundle.expires_at:
        raise BundleExpired(f"bundle {bundle.sequence} expired at {bundle.expires_at:%Y-%m-%d %H:%M} UTC")
    if min_sequence is not None and bundle.sequence < min_sequence:
        raise BundleRollback(f"bundle {bundle.sequence} is older than bundle {min_sequence} already seen")
    return bundle


def describe_age(age: dt.timedelta) -> tuple[str, str]:
    """("2 days 3 hours", "2天3小时") for a bundle's age; minutes under an hour."""
    minutes = max(0, int(age.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h", f"{days}天{hours}小时"
    if hours:
        return f"{hours} h {minutes} min", f"{hours}小时{minutes}分钟"
    return f"{minutes} min", f"{minutes}分钟"
