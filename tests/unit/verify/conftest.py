"""Fixtures of the verification-core tests (helpers live in support.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.verify.support import BODY, NOW, active_line, make_claims, seeded_key
from verify.bundle import TrustBundle, build_bundle
from verify.claims import Claims
from verify.keys import KeyRing


@pytest.fixture
def clock() -> dt.datetime:
    return NOW


@pytest.fixture
def ring() -> KeyRing:
    """A ring whose only key became active 400 days before NOW."""
    key_ring = KeyRing()
    key_ring.add(seeded_key("signer-1"), NOW - dt.timedelta(days=400))
    return key_ring


@pytest.fixture
def claims() -> Claims:
    return make_claims()


@pytest.fixture
def bundle_for(ring: KeyRing) -> Callable[..., TrustBundle]:
    """Build a bundle from the ring with the typical body authorized, overridable per test."""

    def build(**changes: Any) -> TrustBundle:
        values: dict[str, Any] = {
            "sequence": 7,
            "now": NOW - dt.timedelta(hours=2),
            "bodies": {BODY: [active_line()]},
            "keys": ring,
        }
        values.update(changes)
        return build_bundle(**values)

    return build
