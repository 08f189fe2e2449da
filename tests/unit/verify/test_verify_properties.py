"""Property tests: no bit flip ever verifies; random input raises only the documented errors."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.verify.support import NOW, make_claims, seeded_key
from verify.bundle import load_and_verify
from verify.claims import CATEGORY_NUMBERS, USCC_ALPHABET, Claims
from verify.errors import BundleError, MalformedSeal, QrImageError, SealError
from verify.keys import KeyRing
from verify.qr import decode_qr_image
from verify.seal import parse_scanned, seal_url, sign_seal, token_from_bytes, verify_scanned, verify_seal

ROOT = seeded_key("property-root")
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
RING = KeyRing()
RING.add(seeded_key("property-signer"), NOW - dt.timedelta(days=400))

printable = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Co", "Cn")), min_size=1, max_size=20
).filter(str.isprintable)
credit_codes = st.one_of(st.none(), st.text(alphabet=USCC_ALPHABET, min_size=18, max_size=18), printable)


@st.composite
def claims_strategy(draw: st.DrawFn) -> Claims:
    issue = draw(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 1, 1)))
    return make_claims(
        body_code=draw(printable),
        certificate_number=draw(printable),
        holder_credit_code=draw(credit_codes),
        category=draw(st.sampled_from(list(CATEGORY_NUMBERS))),
        jurisdiction=draw(st.sampled_from(["CN", "EU", "US", "UK"])),
        issue_date=issue,
        expiry_date=issue + dt.timedelta(days=draw(st.integers(0, 3650))),
        issued_at=NOW - dt.timedelta(seconds=draw(st.integers(0, 300 * 86400))),
        record_digest=draw(st.binary(min_size=16, max_size=16)),
    )


def flipped(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_every_single_bit_flip_of_the_typical_seal_is_refused():
    """Exhaustive over all 1,376 bits of the typical seal."""
    seal = sign_seal(make_claims(), RING)
    for bit in range(len(seal) * 8):
        with pytest.raises(SealError):
            verify_seal(flipped(seal, bit), RING, NOW)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims=claims_strategy(), data=st.data())
def test_any_single_bit_flip_never_verifies(claims: Claims, data: st.DataObject):
    seal = sign_seal(claims, RING)
    assert verify_seal(seal, RING, NOW) == claims
    bit = data.draw(st.integers(0, len(seal) * 8 - 1), label="bit")
    damaged = token_from_bytes(flipped(seal, bit))
    with pytest.raises(SealError):
        verify_scanned(seal_url(damaged, "verify.example.cn"), RING, NOW)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcdefghijklmnopqrstuvwxyz=/:.- \n", max_size=300),
        st.builds(
            lambda host, token, tail: f"https://{host}/V/{token}{tail}",
            st.text(max_size=20),
            st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=", max_size=300),
            st.sampled_from(["", "/", " ", "//", "?", "#x"]),
        ),
    )
)
def test_parse_scanned_raises_nothing_but_malformed_seal(text: str):
    try:
        parsed = parse_scanned(text)
    except MalformedSeal:
        return
    assert isinstance(parsed, bytes)
    with contextlib.suppress(SealError):
        verify_seal(parsed, RING, NOW)


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(st.binary(max_size=400), st.builds(lambda tail: b"\x84" + tail, st.binary(max_size=300)))
)
def test_random_bytes_raise_only_seal_errors(data: bytes):
    with pytest.raises(SealError):
        verify_seal(data, RING, NOW)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400))
def test_random_bundles_raise_only_bundle_errors(data: bytes):
    with pytest.raises(BundleError):
        load_and_verify(data, ROOT.public_key(), NOW)


@settings(max_examples=60, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=300), st.builds(lambda tail: PNG_HEADER + tail, st.binary(max_size=300))
    )
)
def test_random_images_raise_only_qr_image_errors(data: bytes):
    with pytest.raises(QrImageError):
        decode_qr_image(data)
