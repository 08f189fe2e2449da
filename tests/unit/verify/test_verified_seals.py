"""A key that remembers the seals it verified (verify.verified_seals.VerifiedSeals): the same
bytes skip the signature and the decoding, never the key's state, and nothing else is remembered."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
import threading
from collections.abc import Callable

import pytest

from tests.unit.verify.support import NOW, make_claims, seeded_key
from verify.claims import Claims
from verify.errors import BadSignature, KeyNoLongerValid, SealError
from verify.keys import KeyEntry, KeyRing, KeyState, VerifiedSeals
from verify.seal import sign_seal, verify_seal

SINCE = NOW - dt.timedelta(days=400)


def counted(key: KeyEntry) -> list[int]:
    """A list that grows by one on each signature check ``key`` makes from now on."""
    calls: list[int] = []
    verify = key.verifier

    def counting(signature: bytes, message: bytes) -> bool:
        calls.append(1)
        return verify(signature, message)

    object.__setattr__(key, "verifier", counting)
    return calls


def remembering_ring(size: int = 8, **entry: object) -> tuple[KeyRing, KeyEntry, list[int]]:
    """A ring of one key remembering ``size`` seals, and a list counting its signature checks."""
    private = seeded_key("remembering")
    key = KeyEntry(private.public_key(), KeyState.ACTIVE, SINCE, private_key=private, remember=size)
    if entry:
        key = dataclasses.replace(key, **entry)  # type: ignore[arg-type]
    return KeyRing([key]), key, counted(key)


def seal_at(ring: KeyRing, seconds: int) -> tuple[bytes, Claims]:
    claims = make_claims(issued_at=NOW - dt.timedelta(hours=1, seconds=seconds))
    return sign_seal(claims, ring), claims


def test_a_seal_verified_once_is_not_checked_again() -> None:
    ring, key, calls = remembering_ring()
    data, claims = seal_at(ring, 0)
    assert verify_seal(data, ring, NOW) == claims
    assert verify_seal(data, ring, NOW) == claims
    assert verify_seal(bytes(bytearray(data)), ring, NOW) == claims  # equal bytes, another object
    assert len(calls) == 1
    other, other_claims = seal_at(ring, 1)
    assert verify_seal(other, ring, NOW) == other_claims
    assert len(calls) == 2
    assert key.verified is not None and len(key.verified) == 2


def test_a_key_remembers_nothing_by_default() -> None:
    private = seeded_key("plain")
    plain = KeyEntry(private.public_key(), KeyState.ACTIVE, SINCE, private_key=private)
    assert plain.verified is None
    calls = counted(plain)
    ring = KeyRing([plain])
    data, claims = seal_at(ring, 0)
    assert verify_seal(data, ring, NOW) == verify_seal(data, ring, NOW) == claims
    assert len(calls) == 2  # checked every time


def test_a_remembered_seal_still_answers_to_the_key_state_and_the_time() -> None:
    until = NOW + dt.timedelta(days=30)
    ring, _, calls = remembering_ring(
        state=KeyState.RETIRED, retired_at=NOW - dt.timedelta(minutes=1), verify_until=until
    )
    private = ring.entries()[0].private_key
    assert private is not None
    # A retired key signs nothing: sign with an active twin of the same key.
    twin = KeyRing([KeyEntry(private.public_key(), KeyState.ACTIVE, SINCE, private_key=private)])
    data, claims = seal_at(twin, 0)
    assert verify_seal(data, ring, NOW) == claims
    with pytest.raises(KeyNoLongerValid, match="stopped verifying"):
        verify_seal(data, ring, until + dt.timedelta(seconds=1))  # remembered, yet refused
    assert len(calls) == 1


def test_a_bad_signature_is_never_remembered() -> None:
    ring, key, calls = remembering_ring()
    data, _ = seal_at(ring, 0)
    forged = data[:-1] + bytes([data[-1] ^ 1])
    for _ in range(2):
        with pytest.raises(BadSignature):
            verify_seal(forged, ring, NOW)
    assert len(calls) == 2
    assert key.verified is not None and len(key.verified) == 0


def test_no_bit_flip_of_a_remembered_seal_verifies() -> None:
    ring, _, _ = remembering_ring(size=4096)
    data, claims = seal_at(ring, 0)
    assert verify_seal(data, ring, NOW) == claims
    for position in range(len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[position] ^= 1 << bit
            with pytest.raises(SealError):
                verify_seal(bytes(flipped), ring, NOW)
    assert verify_seal(data, ring, NOW) == claims


def test_the_oldest_seals_are_forgotten_first() -> None:
    ring, key, calls = remembering_ring(size=3)
    seals = [seal_at(ring, n)[0] for n in range(5)]
    for data in seals:
        verify_seal(data, ring, NOW)
    assert key.verified is not None and len(key.verified) == 3
    calls.clear()
    verify_seal(seals[4], ring, NOW)  # kept
    verify_seal(seals[0], ring, NOW)  # forgotten: checked again
    assert len(calls) == 1


def test_forgetting() -> None:
    ring, key, calls = remembering_ring()
    data, _ = seal_at(ring, 0)
    verify_seal(data, ring, NOW)
    assert key.verified is not None
    key.verified.clear()
    assert len(key.verified) == 0
    verify_seal(data, ring, NOW)
    assert len(calls) == 2


def test_threads_share_one_bounded_memory() -> None:
    remembered = VerifiedSeals(64)
    failures: list[BaseException] = []
    wrong: list[tuple[bytes, object]] = []

    def writer(offset: int) -> Callable[[], None]:
        def run() -> None:
            try:
                for n in range(3000):
                    key = (offset * 10_000 + n).to_bytes(4, "big")
                    remembered.put(key, (offset, n))
                    found = remembered.get(key)
                    if found is not None and found != (offset, n):
                        wrong.append((key, found))
                    assert len(remembered) <= 64
            except BaseException as exc:  # reported below
                failures.append(exc)

        return run

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        threads = [threading.Thread(target=writer(t)) for t in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switching)
    assert failures == [] and wrong == []
    assert len(remembered) == 64
