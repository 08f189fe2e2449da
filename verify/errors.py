"""Exceptions of the verification core.

Verification never answers ``False``: it raises one of these, so a caller cannot forget to check
and every failure carries its reason. ``verify.verdict`` maps each seal error to a stable verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verify.seal import Claims


class SealError(Exception):
    """Base of every reason a seal is refused. ``kid`` and ``claims`` are set when they are known."""

    #: Stable machine-readable detail, shown in verdicts and API answers.
    detail = "seal_error"

    def __init__(self, message: str, *, kid: bytes | None = None, claims: Claims | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kid = kid
        self.claims = claims


class MalformedSeal(SealError):
    """Not a seal we could have issued: bad text, bad base32, bad or non-canonical CBOR/COSE."""

    detail = "malformed"


class UnknownKey(SealError):
    """The key id names no key this verifier knows."""

    detail = "unknown_key"


class BadSignature(SealError):
    """The signature does not verify under the named key."""

    detail = "bad_signature"


class AlgorithmNotAllowed(SealError):
    """The protected header names an algorithm other than EdDSA, or one that does not fit the key."""

    detail = "algorithm_not_allowed"


class KeyRevoked(SealError):
    """The signing key was revoked: every seal under it is refused, whatever its issue time."""

    detail = "key_revoked"


class KeyNoLongerValid(SealError):
    """A retired key past its ``verify_until``, a seal dated after the key's retirement, or before
    the key existed."""

    detail = "key_no_longer_valid"


class KeyFileError(ValueError):
    """A private key file that cannot be used: unencrypted, wrong passphrase, not Ed25519."""


class KeyRingError(ValueError):
    """An operation the key ring refuses (two active keys, revoking an unknown key, ...)."""


class JwksError(ValueError):
    """A JWKS document or key that does not meet RFC 8037 and our key-id rule."""


class BundleError(Exception):
    """Base of every reason a trust bundle is refused."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BundleMalformed(BundleError):
    """Not a trust bundle: bad CBOR/COSE, wrong content type, missing or mistyped fields."""


class BundleSignatureInvalid(BundleError):
    """Not signed by the registry root key given to the verifier."""


class BundleExpired(BundleError):
    """Past its ``expires_at``: download a fresh bundle."""


class BundleNotYetValid(BundleError):
    """Issued in the future by more than the allowed clock skew."""


class BundleRollback(BundleError):
    """Older than a bundle this verifier has already accepted (a replayed old bundle)."""


class QrImageError(ValueError):
    """An image that cannot be read, or in which no QR code is found."""
