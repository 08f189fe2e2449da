"""Framework-free verification core: signed QR seals, trust bundles and the shared verdict.

No Flask, no database: pure functions and small classes; every time-dependent call takes ``now``.

- ``keys``       Ed25519 key ids, the ``KeyRing`` (active / retired / revoked), JWKS export/import.
- ``keyfiles``   encrypted PKCS#8 key files and the machine-generated passphrase (re-exported by keys).
- ``claims``     ``Claims``, their compact CBOR form, ``record_digest`` of a certificate record.
- ``cose``       the strict COSE_Sign1 envelope shared by seals and bundles.
- ``seal``       sign/verify seals, base32 tokens, ``HTTPS://HOST/V/TOKEN`` URLs, ``parse_scanned``.
- ``qr``         PNG/SVG/label rendering (render once and cache) and QR image decoding.
- ``authority``  body authorization facts on the issue date, from DB rows or bundle records.
- ``verdict``    THE decision (stable codes, precedence, reasons in Chinese and English).
- ``bundle``     the root-signed trust bundle for offline scanners.
- ``offline``    the offline verifier: same pipeline as the server, lookups from a bundle.
- ``merkle``     RFC 9162 Merkle tree: hashing, proofs from stored complete subtrees, verification.
- ``checkpoint`` C2SP tlog checkpoints in C2SP signed notes (Ed25519 note keys).
- ``log_proof``  a certificate's log entry with its inclusion proof, checked offline.
- ``declaration`` a customs declaration checked against a certificate (holder, HS code, dates).
- ``errors``     the exception hierarchy (``SealError``, ``BundleError``, ...).

Wiring for the server: keep the ring's entries in a table (kid, public key, encrypted PEM,
state, not_before, retired_at, verify_until, revoked_at) and rebuild ``KeyRing`` from them; for
a request call ``verdict.verify_and_decide(lambda: seal.verify_seal(data, ring, now), ...)``
with a certificate lookup returning ``verdict.CertificateState`` (or None) and an authorization
lookup calling ``authority.authorization_facts(authority.lines_from_rows(rows), ...)``.
"""
