"""Offline verification against a downloaded, verified trust bundle.

It runs the very pipeline the server runs (``verify.verdict.verify_and_decide``); only the
lookups differ: certificate status comes from the bundle's withdrawn and suspended lists (expiry
from the seal), body facts from the bundle's authorization lines.

NOT_REGISTERED offline: the registry signs seals only for certificates it has registered, and it
never deletes one (it withdraws it, and withdrawals are in the bundle). So a seal with a genuine
signature from a key in the bundle is treated as registered, and the result says so with
``registration_confirmed = False``. When the bundle does list every registered certificate
(``registered`` is set), a seal issued before the bundle whose certificate is absent gets
NOT_REGISTERED, exactly as the server would say; a seal issued after the bundle cannot be in it,
so it is treated as above.

The answer always carries the bundle's age: a certificate withdrawn after the bundle was made
still looks valid offline, so the scanner must show how old its knowledge is. An expired bundle
is refused (:class:`~verify.errors.BundleExpired`), never used silently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verify.bundle import TrustBundle, describe_age, load_and_verify
from verify.errors import BundleExpired
from verify.qr import decode_qr_image
from verify.seal import parse_scanned, token_to_bytes, verify_seal
from verify.verdict import DEFAULT_GRACE_DAYS, Verdict, VerdictCode, registry_today, verify_and_decide

NOTE_INFERRED = (
    "Checked offline: the bundle does not list every certificate, so registration is inferred from "
    "the registry's signature.",
    "离线核验：信任包未列出全部证书，登记状态依据登记处的签名推定。",
)
NOTE_CONFIRMED = (
    "Checked offline against the trust bundle.",
    "已依据信任包离线核验。",
)


@dataclass(frozen=True)
class OfflineResult:
    """A verdict plus what the offline verifier knew when it gave it."""

    verdict: Verdict
    bundle_sequence: int
    bundle_issued_at: dt.datetime
    bundle_expires_at: dt.datetime
    bundle_age: dt.timedelta
    registration_confirmed: bool

    @property
    def age_text(self) -> tuple[str, str]:
        """(English, Chinese) description of the bundle's age."""
        return describe_age(self.bundle_age)

    @property
    def note(self) -> tuple[str, str]:
        """(English, Chinese) note about how registration was established."""
        return NOTE_CONFIRMED if self.registration_confirmed else NOTE_INFERRED


class OfflineVerifier:
    """Verifies seals against one trust bundle. Reuse one instance for many seals."""

    def __init__(self, bundle: TrustBundle, *, grace_days: int = DEFAULT_GRACE_DAYS) -> None:
        self.bundle = bundle
        self.grace_days = grace_days
        self._ring = bundle.ring

    @classmethod
    def from_file(
        cls,
        path: Path,
        root_public_key: Ed25519PublicKey,
        now: dt.datetime,
        *,
        min_sequence: int | None = None,
        grace_days: int = DEFAULT_GRACE_DAYS,
    ) -> OfflineVerifier:
        """Load and verify a bundle file (raises the BundleError subclasses of load_and_verify)."""
        bundle = load_and_verify(Path(path).read_bytes(), root_public_key, now, min_sequence=min_sequence)
        return cls(bundle, grace_days=grace_days)

    def _check_fresh(self, now: dt.datetime) -> None:
        if now > self.bundle.expires_at:
            raise BundleExpired(
                f"trust bundle {self.bundle.sequence} expired at {self.bundle.expires_at:%Y-%m-%d %H:%M} UTC"
            )

    def verdict_for_bytes(self, data: bytes, now: dt.datetime) -> Verdict:
        """Just the verdict (the bulk path); the caller checks the bundle is fresh."""
        bundle = self.bundle
        return verify_and_decide(
            lambda: verify_seal(data, self._ring, now),
            bundle.certificate_state,
            bundle.authorization_facts,
            now=now,
            grace_days=self.grace_days,
        )

    def _result(self, verdict: Verdict, now: dt.datetime) -> OfflineResult:
        bundle = self.bundle
        confirmed = bool(
            bundle.registered is not None
            and verdict.claims is not None
            and (
                verdict.code is VerdictCode.NOT_REGISTERED
                or verdict.claims.certificate_key in bundle.registered
            )
        )
        return OfflineResult(
            verdict=verdict,
            bundle_sequence=bundle.sequence,
            bundle_issued_at=bundle.issued_at,
            bundle_expires_at=bundle.expires_at,
            bundle_age=bundle.age(now),
            registration_confirmed=confirmed,
        )

    def verify_bytes(self, data: bytes, now: dt.datetime) -> OfflineResult:
        self._check_fresh(now)
        return self._result(self.verdict_for_bytes(data, now), now)

    def verify_token(self, token: str, now: dt.datetime) -> OfflineResult:
        self._check_fresh(now)
        verdict = verify_and_decide(
            lambda: verify_seal(token_to_bytes(token), self._ring, now),
            self.bundle.certificate_state,
            self.bundle.authorization_facts,
            now=now,
            grace_days=self.grace_days,
        )
        return self._result(verdict, now)

    def verify_scanned(self, text: str, now: dt.datetime) -> OfflineResult:
        """A scanned or typed seal URL, or a bare token; any other text is FORGED (malformed)."""
        self._check_fresh(now)
        verdict = verify_and_decide(
            lambda: verify_seal(parse_scanned(text), self._ring, now),
            self.bundle.certificate_state,
            self.bundle.authorization_facts,
            now=now,
            grace_days=self.grace_days,
        )
        return self._result(verdict, now)

    def verify_image(self, source: bytes | str | Path, now: dt.datetime) -> OfflineResult:
        """The seal in a QR image file (or its bytes). With several QR codes in the picture, the
        first that reads as a seal URL or token wins. Raises :class:`~verify.errors.QrImageError`
        when the image cannot be read or holds no QR code at all."""
        self._check_fresh(now)
        texts = decode_qr_image(source)
        results = [self.verify_scanned(text, now) for text in texts]
        for result in results:
            if result.verdict.detail != "malformed":
                return result
        return results[0]

    def verify_many(self, tokens: Iterable[str], now: dt.datetime) -> list[Verdict]:
        """Verdicts for many tokens (bulk checks, benchmarks)."""
        self._check_fresh(now)
        ring, bundle, grace, today = self._ring, self.bundle, self.grace_days, registry_today(now)
        return [
            verify_and_decide(
                lambda token=token: verify_seal(token_to_bytes(token), ring, now),  # type: ignore[misc]
                bundle.certificate_state,
                bundle.authorization_facts,
                now=now,
                grace_days=grace,
                today=today,
            )
            for token in tokens
        ]
