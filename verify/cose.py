"""Minimal, strict COSE_Sign1 (RFC 9052 §4.2) for Ed25519, shared by seals and trust bundles.

We accept exactly the deterministic encoding (RFC 8949 §4.2) of what we produce, optionally
wrapped in tag 18: anything else (trailing bytes, non-minimal lengths, indefinite lengths,
unsorted or duplicate map keys, extra headers, unknown critical headers) is refused, so one
seal has one encoding and a parser differential cannot smuggle a second meaning past the
signature.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verify.keys import COSE_ALG_EDDSA

HEADER_ALG = 1
HEADER_CRIT = 2
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
COSE_SIGN1_TAG = 18
SIGNATURE_BYTES = 64


class CoseFormatError(ValueError):
    """The bytes are not a strict COSE_Sign1 as we define it."""


class CoseAlgorithmError(ValueError):
    """The protected header names an algorithm we do not accept."""


def _head(major: int, length: int) -> bytes:
    """Deterministic CBOR head of a major type with argument ``length``."""
    if length < 24:
        return bytes([major << 5 | length])
    if length < 0x100:
        return bytes([major << 5 | 24, length])
    if length < 0x10000:
        return bytes([major << 5 | 25]) + length.to_bytes(2, "big")
    return bytes([major << 5 | 26]) + length.to_bytes(4, "big")


def bstr(data: bytes) -> bytes:
    """Deterministic CBOR encoding of a byte string."""
    return _head(2, len(data)) + data


_SIG1_PREFIX = b"\x84" + b"\x6aSignature1"


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """``["Signature1", protected, external_aad = h'', payload]`` (RFC 9052 §4.4), built by hand
    because it is on the hot path of bulk verification."""
    return _SIG1_PREFIX + bstr(protected) + b"\x40" + bstr(payload)


def encode_sign1(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    """Untagged ``[protected, {}, payload, signature]``: the context (a seal URL, a bundle file)
    already says what it is, so the tag byte is saved."""
    return b"\x84" + bstr(protected) + b"\xa0" + bstr(payload) + bstr(signature)


def protected_header(kid: bytes, content_type: str | None = None) -> bytes:
    header: dict[int, Any] = {HEADER_ALG: COSE_ALG_EDDSA, HEADER_KID: kid}
    if content_type is not None:
        header[HEADER_CONTENT_TYPE] = content_type
    return cbor2.dumps(header, canonical=True)


def sign1(
    private_key: Ed25519PrivateKey, kid: bytes, payload: bytes, content_type: str | None = None
) -> bytes:
    """Sign ``payload`` (already CBOR) into a COSE_Sign1 message."""
    protected = protected_header(kid, content_type)
    return encode_sign1(protected, payload, private_key.sign(sig_structure(protected, payload)))


class Sign1(NamedTuple):
    """A structurally valid COSE_Sign1 whose signature has NOT been checked yet.

    ``to_be_signed`` is the Sig_structure, assembled from slices of the message (which already
    hold the deterministic encodings of the protected header and payload byte strings).
    """

    protected: bytes
    kid: bytes
    content_type: str | None
    payload: bytes
    signature: bytes
    to_be_signed: bytes


def strict_loads(data: bytes, max_depth: int = 8) -> Any:
    """Decode one CBOR item, refusing duplicate keys and indefinite lengths. The decoder ignores
    trailing bytes and accepts over-long heads: callers check the canonical form themselves."""
    try:
        return cbor2.loads(data, allow_duplicate_keys=False, allow_indefinite=False, max_depth=max_depth)
    except (cbor2.CBORError, ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise CoseFormatError(f"not CBOR: {exc}") from exc


def head_size(argument: int) -> int:
    """Bytes taken by the shortest CBOR head carrying ``argument``."""
    return 1 if argument < 24 else 2 if argument < 0x100 else 3 if argument < 0x10000 else 5


def _parse_protected(protected: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    # Fast path: the exact bytes we produce.
    if content_type is None and len(protected) == 13 and protected[:5] == b"\xa2\x01\x27\x04\x48":
        return protected[5:], None
    header = strict_loads(protected, max_depth=2)
    # type() not ==: True and 1.0 would pass for the label 1.
    if not isinstance(header, dict) or any(type(label) not in (int, str) for label in header):
        raise CoseFormatError("the protected header is not a map with integer or text labels")
    try:
        canonical = cbor2.dumps(header, canonical=True)
    except (cbor2.CBORError, ValueError, TypeError) as exc:
        raise CoseFormatError("the protected header cannot be re-encoded") from exc
    if canonical != protected:
        raise CoseFormatError("the protected header is not deterministically encoded")
    if HEADER_CRIT in header:
        raise CoseFormatError("critical headers are not understood")
    allowed = {HEADER_ALG, HEADER_KID} | ({HEADER_CONTENT_TYPE} if content_type is not None else set())
    if not set(header) <= allowed:
        raise CoseFormatError(f"unexpected protected headers {sorted(map(repr, set(header) - allowed))}")
    if HEADER_ALG not in header:
        raise CoseFormatError("the protected header names no algorithm")
    alg = header[HEADER_ALG]
    if type(alg) is not int or alg != COSE_ALG_EDDSA:
        raise CoseAlgorithmError(f"algorithm {alg!r} is not allowed (EdDSA only)")
    kid = header.get(HEADER_KID)
    if type(kid) is not bytes or len(kid) != 8:
        raise CoseFormatError("the key id is not 8 bytes")
    if header.get(HEADER_CONTENT_TYPE) != content_type:
        raise CoseFormatError(f"content type is not {content_type!r}")
    return kid, content_type


def parse_sign1(data: bytes, content_type: str | None = None) -> Sign1:
    """Parse and structurally validate a COSE_Sign1; the signature is NOT verified here.

    ``content_type`` is the protected content type (3) required, or None to require its absence.
    Raises :class:`CoseFormatError` or :class:`CoseAlgorithmError`.
    """
    if type(data) is not bytes:
        raise CoseFormatError("not bytes")
    message = strict_loads(data, max_depth=2)
    start = 0
    if type(message) is cbor2.CBORTag:
        if message.tag != COSE_SIGN1_TAG:
            raise CoseFormatError(f"unexpected tag {message.tag}")
        message, start = message.value, 1
    # cbor2 decodes containers inside a tag as tuple and frozendict.
    if type(message) not in (list, tuple) or len(message) != 4:
        raise CoseFormatError("a COSE_Sign1 is an array of 4")
    protected, unprotected, payload, signature = message
    if type(protected) is not bytes or type(payload) is not bytes or type(signature) is not bytes:
        raise CoseFormatError("protected header, payload and signature must be byte strings")
    if type(unprotected) not in (dict, cbor2.frozendict) or unprotected:
        raise CoseFormatError("the unprotected header must be empty")
    if len(signature) != SIGNATURE_BYTES:
        raise CoseFormatError("an Ed25519 signature is 64 bytes")
    # The decoder ignores trailing bytes and accepts over-long heads: both make the message
    # longer than the deterministic encoding of what was decoded, so one length check (plus
    # the one-byte tag/array/map heads checked here) refuses them all.
    protected_end = start + 1 + head_size(len(protected)) + len(protected)
    payload_end = protected_end + 1 + head_size(len(payload)) + len(payload)
    if (
        len(data) != payload_end + 2 + SIGNATURE_BYTES
        or data[start] != 0x84
        or data[protected_end] != 0xA0
        or (start and data[0] != 0xD2)
    ):
        raise CoseFormatError("not the deterministic encoding, or trailing bytes")
    kid, ctype = _parse_protected(protected, content_type)
    to_be_signed = (
        _SIG1_PREFIX + data[start + 1 : protected_end] + b"\x40" + data[protected_end + 1 : payload_end]
    )
    return Sign1(protected, kid, ctype, payload, signature, to_be_signed)
