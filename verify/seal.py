"""The certificate seal: a COSE_Sign1 (Ed25519) over compact CBOR claims, carried in a QR URL.

Layout: ``[protected = {1: -8, 4: kid}, {}, payload = claims (see verify.claims), signature]``,
untagged (tag 18 is accepted on input).

The QR holds ``HTTPS://HOST/V/TOKEN`` where TOKEN is RFC 4648 base32 of the COSE bytes,
uppercase, unpadded, so the whole QR is in alphanumeric mode. A typical certificate gives
172 COSE bytes, a 276-character token and, with host VERIFY.EXAMPLE.CN, a 304-character URL:
QR version 10 at ECC level M (capacity 311), asserted by tests/unit/verify/test_qr.py. Packing
the credit code (6 bytes) and truncating the record digest (16 bytes) keep it at version 10.
"""

from __future__ import annotations

import base64
import datetime as dt
import re

from verify import cose
from verify.claims import (
    CATEGORY_NUMBERS,
    Claims,
    decode_claims,
    encode_claims,
    record_digest,
)
from verify.errors import AlgorithmNotAllowed, BadSignature, MalformedSeal, SealError, UnknownKey
from verify.keys import COSE_ALG_EDDSA, KeyRing

__all__ = [
    "CATEGORY_NUMBERS",
    "Claims",
    "decode_claims",
    "encode_claims",
    "issue_token",
    "parse_scanned",
    "record_digest",
    "scanned_token",
    "seal_url",
    "sign_seal",
    "token_from_bytes",
    "token_to_bytes",
    "verify_scanned",
    "verify_seal",
    "verify_token",
]

MAX_TOKEN_CHARS = 1024


# --- sign and verify ------------------------------------------------------------------------------


def sign_seal(claims: Claims, ring: KeyRing) -> bytes:
    """COSE bytes of a seal over ``claims`` with the ring's active key."""
    signer = ring.signer()
    # The signer must itself accept the seal it makes (not dated before the key existed).
    signer.check_usable(claims.issued_at, claims.issued_at)
    assert signer.private_key is not None
    return cose.sign1(signer.private_key, signer.kid, encode_claims(claims))


def verify_seal(data: bytes, ring: KeyRing, now: dt.datetime) -> Claims:
    """Verify seal bytes against ``ring`` at ``now``; return its claims or raise a SealError.

    Order: structure, algorithm, key, signature, then claims and the key's state. Claims are only
    decoded once the signature holds, so unauthenticated bytes never reach the claim parser. A
    key that remembers the seals it verified (``KeyEntry.remember``) skips the signature and
    the decoding for the very same bytes, never the key's state.
    """
    try:
        message = cose.parse_sign1(data)
    except cose.CoseAlgorithmError as exc:
        raise AlgorithmNotAllowed(str(exc)) from exc
    except cose.CoseFormatError as exc:
        raise MalformedSeal(str(exc)) from exc
    entry = ring.get(message.kid)
    if entry is None:
        raise UnknownKey(f"unknown key {message.kid.hex()}", kid=message.kid)
    if entry.algorithm != COSE_ALG_EDDSA:
        raise AlgorithmNotAllowed("the algorithm does not match the key type", kid=message.kid)
    verified = entry.verified
    claims: Claims | None = verified.get(data) if verified is not None else None
    if claims is None:  # not a seal this key remembers verifying (verified_seals.VerifiedSeals)
        if not entry.verifier(message.signature, message.to_be_signed):
            raise BadSignature("the signature does not verify", kid=message.kid)
        try:
            claims = decode_claims(message.payload)
        except ValueError as exc:
            raise MalformedSeal(str(exc), kid=message.kid) from exc
        if verified is not None:
            verified.put(data, claims)
    try:
        entry.check_usable(claims.issued_at, now)
    except SealError as exc:
        exc.claims = claims
        raise
    return claims


# --- token, URL and scanned text -------------------------------------------------------------------

_B32_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# Maps the base32 alphabet (either case) to int()'s base-32 digits; every other byte to "!",
# which int() refuses (so no sign, whitespace or underscore can slip through).
_B32_TO_INT = bytearray(b"!" * 256)
for _char, _digit in zip(_B32_ALPHABET, b"0123456789abcdefghijklmnopqrstuv", strict=True):
    _B32_TO_INT[_char] = _B32_TO_INT[ord(chr(_char).lower())] = _digit
_B32_TABLE = bytes(_B32_TO_INT)
_VALID_TAIL_CHARS = {0, 2, 4, 5, 7}


def token_from_bytes(data: bytes) -> str:
    """RFC 4648 base32, uppercase, without padding."""
    return base64.b32encode(data).decode("ascii").rstrip("=")


def token_to_bytes(token: str) -> bytes:
    """Strict inverse of :func:`token_from_bytes` (any case); :class:`MalformedSeal` otherwise.

    Decoded through ``int(..., 32)`` because ``base64.b32decode`` is pure Python and costs more
    than half an Ed25519 verification.
    """
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        raise MalformedSeal("a token is 1..1024 base32 characters")
    if len(token) % 8 not in _VALID_TAIL_CHARS:
        raise MalformedSeal("impossible base32 length")
    try:
        value = int(token.encode("ascii").translate(_B32_TABLE), 32)
    except (UnicodeEncodeError, ValueError) as exc:
        raise MalformedSeal("not base32") from exc
    bits = len(token) * 5
    size, spare = divmod(bits, 8)
    if value & ((1 << spare) - 1):
        raise MalformedSeal("non-zero padding bits: not a canonical base32 token")
    return (value >> spare).to_bytes(size, "big")


_HOST = re.compile(r"[A-Z0-9.-]+(?::[0-9]{1,5})?", re.ASCII)
# Both cases spelled out rather than IGNORECASE: a case-folding match of every character of a
# 270-character token costs four times as much, on every scan.
_SCANNED_URL = re.compile(r"(?i:https?://[^/\s?#]+/v/)([A-Za-z2-7]+)/?", re.ASCII)
_BARE_TOKEN = re.compile(r"[A-Za-z2-7]+", re.ASCII)


def seal_url(token: str, host: str) -> str:
    """``HTTPS://HOST/V/TOKEN`` in uppercase, so the whole QR is in alphanumeric mode."""
    upper_host = host.upper()
    if not _HOST.fullmatch(upper_host):
        raise ValueError(f"host {host!r} must be letters, digits, dots, hyphens and an optional :port")
    return f"HTTPS://{upper_host}/V/{token.upper()}"


def scanned_token(text: str) -> str:
    """The token a scanned or typed string holds (see :func:`parse_scanned`), unchecked, as typed.
    Raises only :class:`MalformedSeal`."""
    if not isinstance(text, str):
        raise MalformedSeal("scanned text must be a string")
    candidate = text.strip()
    if len(candidate) > MAX_TOKEN_CHARS + 300:
        raise MalformedSeal("scanned text is too long to be a seal")
    match = _SCANNED_URL.fullmatch(candidate)
    if match is not None:
        return match.group(1)
    if _BARE_TOKEN.fullmatch(candidate):
        return candidate
    raise MalformedSeal("neither a seal URL nor a seal token")


def parse_scanned(text: str) -> bytes:
    """Seal bytes from a scanned or typed string: the seal URL in any case, http or https, any
    host, with or without a trailing slash and surrounding whitespace, or a bare token.
    Raises only :class:`MalformedSeal`."""
    return token_to_bytes(scanned_token(text))


def verify_token(token: str, ring: KeyRing, now: dt.datetime) -> Claims:
    return verify_seal(token_to_bytes(token), ring, now)


def verify_scanned(text: str, ring: KeyRing, now: dt.datetime) -> Claims:
    return verify_seal(parse_scanned(text), ring, now)


def issue_token(claims: Claims, ring: KeyRing) -> str:
    """Sign ``claims`` and return the token for :func:`seal_url`."""
    return token_from_bytes(sign_seal(claims, ring))
