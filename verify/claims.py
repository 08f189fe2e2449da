"""What a seal asserts: the claims, their compact CBOR form, and the certificate record digest.

Claims (CBOR map, small integer keys, deterministic encoding RFC 8949 §4.2)::

    1 body code            text      "CNCA-R-2002-001"
    2 certificate number   text      "CQC2026011234567"
    3 holder credit code   12 bytes (packed GB 32100 code) or text (another identifier); absent if none
    4 category             uint      CATEGORY_NUMBERS (part of the format: never renumber)
    5 jurisdiction         text      "CN"
    6 certificate issued   uint      days since 1970-01-01
    7 certificate expires  uint      days since 1970-01-01
    8 seal issued at       uint      Unix seconds (compared with key retirement times)
    9 record digest        16 bytes  record_digest()

Decoding is on the hot path of bulk verification, so it is written for speed (one C decode,
one C re-encode, one boolean expression) rather than as a general validator.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import cbor2

# Fixed table of the six categories of registry/data/categories.csv. The numbers are part of the
# seal format: append new categories, never renumber or reuse one.
CATEGORY_NUMBERS: dict[str, int] = {
    "mask": 1,
    "protective_clothing": 2,
    "ventilator": 3,
    "ir_thermometer": 4,
    "test_reagent": 5,
    "meltblown": 6,
}
CATEGORIES_BY_NUMBER = {number: code for code, number in CATEGORY_NUMBERS.items()}

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
_USCC_PAIRS = [a + b for a in USCC_ALPHABET for b in USCC_ALPHABET]  # value 0..960 -> 2 characters
_USCC_HALF = 31**9
PACKED_CREDIT_CODE_BYTES = 12  # 31**18 < 2**90
DIGEST_BYTES = 16
MAX_BODY_CODE, MAX_NUMBER, MAX_HOLDER, MAX_JURISDICTION = 40, 64, 64, 8
_EPOCH_DAY = dt.date(1970, 1, 1).toordinal()
_EPOCH_DATE = dt.date(1970, 1, 1)
_MAX_DAY = dt.date.max.toordinal() - _EPOCH_DAY
_MAX_SECONDS = 0xFFFFFFFF
_KEYS_WITH_HOLDER = [1, 2, 3, 4, 5, 6, 7, 8, 9]
_KEYS_WITHOUT_HOLDER = [1, 2, 4, 5, 6, 7, 8, 9]
_INT_ONLY = {int}


def _text_ok(value: object, limit: int) -> bool:
    return type(value) is str and 0 < len(value) <= limit and value.isprintable()


@dataclass(frozen=True)
class Claims:
    """The claims of one seal. ``issued_at`` is normalized to UTC whole seconds (its encoded form).

    Construction validates every field (``ValueError``), so invalid claims can never be signed.
    """

    body_code: str
    certificate_number: str
    holder_credit_code: str | None
    category: str
    jurisdiction: str
    issue_date: dt.date
    expiry_date: dt.date
    issued_at: dt.datetime
    record_digest: bytes

    def __post_init__(self) -> None:
        for name, limit in (
            ("body_code", MAX_BODY_CODE),
            ("certificate_number", MAX_NUMBER),
            ("jurisdiction", MAX_JURISDICTION),
        ):
            if not _text_ok(getattr(self, name), limit):
                raise ValueError(f"{name} must be 1..{limit} printable characters")
        if self.holder_credit_code is not None and not _text_ok(self.holder_credit_code, MAX_HOLDER):
            raise ValueError(f"holder_credit_code must be 1..{MAX_HOLDER} printable characters")
        if self.category not in CATEGORY_NUMBERS:
            raise ValueError(f"unknown category {self.category!r}")
        if type(self.issue_date) is not dt.date or type(self.expiry_date) is not dt.date:
            raise ValueError("issue_date and expiry_date must be dates")
        if not _EPOCH_DATE <= self.issue_date <= self.expiry_date:
            raise ValueError("dates must be from 1970 on, and the expiry not before the issue")
        issued_at = self.issued_at
        if not isinstance(issued_at, dt.datetime) or issued_at.tzinfo is None:
            raise ValueError("issued_at must be a timezone-aware datetime")
        normalized = issued_at.astimezone(dt.UTC).replace(microsecond=0)
        if not 0 <= normalized.timestamp() <= _MAX_SECONDS:
            raise ValueError("issued_at is out of range")
        object.__setattr__(self, "issued_at", normalized)
        if type(self.record_digest) is not bytes or len(self.record_digest) != DIGEST_BYTES:
            raise ValueError(f"record_digest must be {DIGEST_BYTES} bytes")

    @property
    def certificate_key(self) -> tuple[str, str]:
        """(body code, certificate number): unique in the registry."""
        return self.body_code, self.certificate_number


# --- record digest --------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes in a certificate record must be timezone-aware")
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not allowed in a certificate record: {type(value).__name__}")


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("floats are not allowed in a certificate record (their text form varies)")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("certificate record keys must be strings")
            _refuse_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_floats(item)


def canonical_record_json(record: dict[str, Any]) -> bytes:
    """Canonical JSON of a certificate record: sorted keys, no whitespace, UTF-8, dates ISO 8601,
    datetimes RFC 3339 UTC with microseconds (the rules of registry audit events). Floats and
    non-string keys are refused."""
    _refuse_floats(record)
    text = json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )
    return text.encode("utf-8")


def record_digest(record: dict[str, Any]) -> bytes:
    """SHA-256 of :func:`canonical_record_json`, truncated to 16 bytes.

    16 bytes keep 128-bit second-preimage resistance: nobody can make another record match a
    sealed digest. Collisions cost 2**64 work but only help someone who writes both records
    before sealing, and the registry keeps (and audits) the record it sealed, so a collision
    gains nothing. The 16 bytes saved (26 base32 characters) keep the typical QR at version 10.
    """
    return hashlib.sha256(canonical_record_json(record)).digest()[:DIGEST_BYTES]


# --- credit codes ----------------------------------------------------------------------------------


def pack_credit_code(code: str) -> bytes | None:
    """A GB 32100 code (18 characters of its alphabet) as 12 bytes; None for anything else."""
    if len(code) != 18:
        return None
    value = 0
    for ch in code:
        digit = _USCC_VALUES.get(ch)
        if digit is None:
            return None
        value = value * 31 + digit
    return value.to_bytes(PACKED_CREDIT_CODE_BYTES, "big")


def _nine_characters(value: int) -> str:
    value, d = divmod(value, 961)
    value, c = divmod(value, 961)
    value, b = divmod(value, 961)
    value, a = divmod(value, 961)
    return USCC_ALPHABET[value] + _USCC_PAIRS[a] + _USCC_PAIRS[b] + _USCC_PAIRS[c] + _USCC_PAIRS[d]


def unpack_credit_code(packed: bytes) -> str:
    """Inverse of :func:`pack_credit_code`; ``ValueError`` for bytes it cannot have produced."""
    value = int.from_bytes(packed, "big")
    if len(packed) != PACKED_CREDIT_CODE_BYTES or value >= _USCC_HALF * _USCC_HALF:
        raise ValueError("not a packed credit code")
    high, low = divmod(value, _USCC_HALF)
    return _nine_characters(high) + _nine_characters(low)


# --- CBOR ------------------------------------------------------------------------------------------


def encode_claims(claims: Claims) -> bytes:
    """Deterministic CBOR of the claims: keys ascending, shortest heads, no optional nulls."""
    items: dict[int, Any] = {1: claims.body_code, 2: claims.certificate_number}
    if claims.holder_credit_code is not None:
        packed = pack_credit_code(claims.holder_credit_code)
        items[3] = packed if packed is not None else claims.holder_credit_code
    items[4] = CATEGORY_NUMBERS[claims.category]
    items[5] = claims.jurisdiction
    items[6] = claims.issue_date.toordinal() - _EPOCH_DAY
    items[7] = claims.expiry_date.toordinal() - _EPOCH_DAY
    items[8] = int(claims.issued_at.timestamp())
    items[9] = claims.record_digest
    return cbor2.dumps(items)


def decode_claims(payload: bytes) -> Claims:
    """Strictly decode claims: ``ValueError`` for anything :func:`encode_claims` cannot write
    (unknown, missing, duplicate or unsorted keys, wrong types, out-of-range values, bad UTF-8,
    over-long heads, trailing bytes, a GB 32100 holder code left unpacked)."""
    try:
        items = cbor2.loads(payload, allow_duplicate_keys=False, allow_indefinite=False, max_depth=1)
    except (cbor2.CBORError, ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise ValueError(f"claims are not CBOR: {exc}") from exc
    if type(items) is not dict:
        raise ValueError("claims must be a map")
    keys = list(items)
    holder: object = None
    # type() not ==: True and 1.0 compare equal to 1 (and re-encode as themselves).
    if set(map(type, keys)) != _INT_ONLY:
        raise ValueError("claim keys must be integers")
    if keys == _KEYS_WITH_HOLDER:
        body, number, holder, category, jurisdiction, issue_day, expiry_day, seconds, digest = items.values()
    elif keys == _KEYS_WITHOUT_HOLDER:
        body, number, category, jurisdiction, issue_day, expiry_day, seconds, digest = items.values()
    else:
        raise ValueError(f"claim keys {keys!r} are not the defined set in ascending order")
    # The decoder tolerates over-long heads and trailing bytes; re-encoding refuses both.
    try:
        canonical = cbor2.dumps(items) == payload
    except (cbor2.CBORError, ValueError, TypeError) as exc:
        raise ValueError("claims cannot be re-encoded") from exc
    if not canonical:
        raise ValueError("claims are not deterministically encoded")
    if not (
        type(body) is str
        and type(number) is str
        and type(jurisdiction) is str
        and 0 < len(body) <= MAX_BODY_CODE
        and 0 < len(number) <= MAX_NUMBER
        and 0 < len(jurisdiction) <= MAX_JURISDICTION
        and body.isprintable()
        and number.isprintable()
        and jurisdiction.isprintable()
        and type(issue_day) is int
        and type(expiry_day) is int
        and type(seconds) is int
        and type(digest) is bytes
        and len(digest) == DIGEST_BYTES
        and 0 <= issue_day <= expiry_day <= _MAX_DAY
        and 0 <= seconds <= _MAX_SECONDS
    ):
        raise ValueError("a claim has the wrong type or an out-of-range value")
    category_code = CATEGORIES_BY_NUMBER.get(category) if type(category) is int else None
    if category_code is None:
        raise ValueError(f"unknown category number {category!r}")
    if type(holder) is bytes:
        holder = unpack_credit_code(holder)
    elif holder is not None and (not _text_ok(holder, MAX_HOLDER) or pack_credit_code(holder)):  # type: ignore[arg-type]
        raise ValueError("the holder claim is neither a packed GB 32100 code nor another identifier")
    # Every field is checked above: build the instance without __init__, which for a frozen
    # dataclass means nine object.__setattr__ calls and a second validation (a tenth of the
    # non-cryptographic cost of verifying a seal).
    claims = object.__new__(Claims)
    claims.__dict__.update(
        body_code=body,
        certificate_number=number,
        holder_credit_code=holder,
        category=category_code,
        jurisdiction=jurisdiction,
        issue_date=dt.date.fromordinal(_EPOCH_DAY + issue_day),
        expiry_date=dt.date.fromordinal(_EPOCH_DAY + expiry_day),
        issued_at=dt.datetime.fromtimestamp(seconds, dt.UTC),
        record_digest=digest,
    )
    return claims
