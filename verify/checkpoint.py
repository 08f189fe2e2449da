"""C2SP checkpoints (c2sp.org/tlog-checkpoint) and Ed25519 signed notes (c2sp.org/signed-note).

A checkpoint is the note text ``<origin>\\n<size>\\n<base64 root hash>\\n`` (then optional extension
lines); a signed note is that text, a blank line, and signature lines
``— <key name> <base64(4-byte key id || signature)>\\n``. Key strings follow golang.org/x/mod/sumdb/note:
verifier ``<name>+<key id hex>+<base64(0x01 || public key)>``, signer
``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>``.

Opening never answers ``False``: it raises a :class:`NoteError` or :class:`CheckpointError`.
Signing and verifying use ``cryptography``'s Ed25519.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_PREFIX = "\u2014 "  # em dash, space
ED25519_TYPE = b"\x01"
KEY_ID_BYTES = 4
HASH_SIZE = 32
# The spec requires accepting at least 16; like x/mod we stop at 100 to bound the work per note.
MAX_SIGNATURES = 100
MAX_TREE_SIZE = 2**64 - 1
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")


class NoteError(ValueError):
    """Base of every reason a signed note is refused."""


class MalformedNote(NoteError):
    """Not a signed note: no blank line before the signatures, bad signature line, control characters."""


class UnverifiedNote(NoteError):
    """No signature from a known key: the note text must be ignored."""


class InvalidNoteSignature(NoteError):
    """A signature line names a known key (name and key id) but does not verify under it."""


class NoteKeyError(ValueError):
    """A key name or key string that cannot be used: bad syntax, unknown algorithm, wrong key id."""


class CheckpointError(ValueError):
    """Base of every reason a checkpoint is refused."""


class MalformedCheckpoint(CheckpointError):
    """Note text that is not a checkpoint: too few lines, bad size, bad root hash."""


class OriginMismatch(CheckpointError):
    """A valid checkpoint, but of another log than the one expected."""


# --- Encoding helpers ----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode_strict(text: str) -> bytes:
    """Standard padded base64 (RFC 4648 §4), canonical only; ``ValueError`` otherwise."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("not standard base64") from exc
    if _b64(data) != text:
        raise ValueError("not canonical base64")
    return data


def is_valid_key_name(name: str) -> bool:
    """Key names are non-empty and contain no Unicode space and no ``+`` (signed-note spec)."""
    return bool(name) and "+" not in name and not any(char.isspace() for char in name)


def _has_control_characters(text: str) -> bool:
    """True for ASCII control characters other than newline, which notes must not contain."""
    return any(ord(char) < 0x20 and char != "\n" for char in text)


def _encode_utf8(text: str, error: type[ValueError]) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise error("not valid UTF-8") from exc


def ed25519_key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4], the signed-note Ed25519 key id."""
    material = name.encode("utf-8") + b"\n" + ED25519_TYPE + public_key.public_bytes_raw()
    return hashlib.sha256(material).digest()[:KEY_ID_BYTES]


def _parse_key_id(text: str) -> bytes:
    if not _KEY_ID_HEX.fullmatch(text):
        raise NoteKeyError("a key id is 8 hexadecimal digits")
    return bytes.fromhex(text)


def _decode_typed_key(text: str) -> bytes:
    """The 32 key bytes of ``base64(0x01 || key)``; refuses other algorithms and lengths."""
    try:
        typed = _b64decode_strict(text)
    except ValueError as exc:
        raise NoteKeyError("key is not standard base64") from exc
    if typed[:1] != ED25519_TYPE:
        raise NoteKeyError("only Ed25519 keys (type 0x01) are supported")
    if len(typed) != 1 + 32:
        raise NoteKeyError("an Ed25519 key has 32 bytes")
    return typed[1:]


# --- Keys ----------------------------------------------------------------------------------------


class NoteVerifier:
    """A named Ed25519 public key that checks note signatures, built from a verifier key string."""

    def __init__(self, verifier_key: str) -> None:
        # The name holds no "+", so the first two "+" end the name and the key id; base64 may hold "+".
        parts = verifier_key.split("+", 2)
        if len(parts) != 3 or not is_valid_key_name(parts[0]):
            raise NoteKeyError("a verifier key is <name>+<key id>+<base64 key>")
        name, id_hex, key_text = parts
        key_id = _parse_key_id(id_hex)
        raw_key = _decode_typed_key(key_text)
        try:
            public_key = Ed25519PublicKey.from_public_bytes(raw_key)
        except ValueError as exc:
            raise NoteKeyError("not an Ed25519 public key") from exc
        if ed25519_key_id(name, public_key) != key_id:
            raise NoteKeyError("the key id does not match the name and key")
        self.name = name
        self.key_id = key_id
        self.public_key = public_key

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> NoteVerifier:
        """The verifier for ``public_key`` under ``name``."""
        if not is_valid_key_name(name):
            raise NoteKeyError(f"invalid key name {name!r}")
        key_id = ed25519_key_id(name, public_key)
        return cls(f"{name}+{key_id.hex()}+{_b64(ED25519_TYPE + public_key.public_bytes_raw())}")

    def key_string(self) -> str:
        """``<name>+<key id hex>+<base64(0x01 || public key)>``, to publish and configure verifiers."""
        return f"{self.name}+{self.key_id.hex()}+{_b64(ED25519_TYPE + self.public_key.public_bytes_raw())}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (without the key id prefix) is this key's signature of ``message``."""
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"NoteVerifier({self.key_string()!r})"


class NoteSigner:
    """A named Ed25519 private key that signs notes."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not is_valid_key_name(name):
            raise NoteKeyError(f"invalid key name {name!r}")
        self.name = name
        self._private_key = private_key
        self.key_id = ed25519_key_id(name, private_key.public_key())

    @classmethod
    def from_key_string(cls, signer_key: str) -> NoteSigner:
        """Parse ``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>``."""
        parts = signer_key.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not is_valid_key_name(parts[2]):
            raise NoteKeyError("a signer key is PRIVATE+KEY+<name>+<key id>+<base64 seed>")
        name, id_hex, seed_text = parts[2:]
        key_id = _parse_key_id(id_hex)
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(_decode_typed_key(seed_text)))
        # The id names the public key, so it can only be checked once the key is derived.
        if signer.key_id != key_id:
            raise NoteKeyError("the key id does not match the name and key")
        return signer

    def private_key_string(self) -> str:
        """The secret signer key string; keep it out of logs."""
        seed = ED25519_TYPE + self._private_key.private_bytes_raw()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{_b64(seed)}"

    def verifier(self) -> NoteVerifier:
        """The matching verifier."""
        return NoteVerifier.from_public_key(self.name, self._private_key.public_key())

    def sign(self, message: bytes) -> bytes:
        """The raw Ed25519 signature of ``message`` (64 bytes, without key id)."""
        return self._private_key.sign(message)

    def __repr__(self) -> str:
        return f"NoteSigner(name={self.name!r}, key_id={self.key_id.hex()!r})"


# --- Signed notes --------------------------------------------------------------------------------


def sign_note(text: str, signers: Iterable[NoteSigner]) -> str:
    """The signed note: ``text``, a blank line, one signature line per signer (at least one).

    ``text`` must end in a newline and hold no control characters other than newline.
    """
    if not text.endswith("\n") or _has_control_characters(text):
        raise MalformedNote("note text must end in a newline and hold no control characters")
    message = _encode_utf8(text, MalformedNote)
    lines = [
        f"{SIGNATURE_PREFIX}{signer.name} {_b64(signer.key_id + signer.sign(message))}\n"
        for signer in signers
    ]
    if not lines:
        raise MalformedNote("a signed note has at least one signature")
    return text + "\n" + "".join(lines)


def _known_keys(verifiers: Iterable[NoteVerifier]) -> dict[tuple[str, bytes], NoteVerifier]:
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_id)
        other = known.setdefault(slot, verifier)
        if other.public_key.public_bytes_raw() != verifier.public_key.public_bytes_raw():
            raise NoteKeyError(f"ambiguous key {verifier.name}+{verifier.key_id.hex()}")
    return known


def _decode_note(signed: str | bytes) -> str:
    if isinstance(signed, bytes):
        try:
            signed = signed.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNote("a signed note is UTF-8") from exc
    else:
        _encode_utf8(signed, MalformedNote)
    if _has_control_characters(signed):
        raise MalformedNote("a signed note holds no control characters other than newline")
    return signed


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    """``(key name, key id, signature)`` of one signature line (without its newline)."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNote("signature lines start with an em dash and a space")
    name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not is_valid_key_name(name):
        raise MalformedNote(f"invalid key name in signature line: {name!r}")
    try:
        raw = _b64decode_strict(encoded)
    except ValueError as exc:
        raise MalformedNote("signature is not standard base64") from exc
    if len(raw) <= KEY_ID_BYTES:
        raise MalformedNote("signature is too short")
    return name, raw[:KEY_ID_BYTES], raw[KEY_ID_BYTES:]


def open_note(signed: str | bytes, verifiers: Iterable[NoteVerifier]) -> tuple[str, list[str]]:
    """Verify a signed note; return its text and the names of the known keys that signed it.

    Signatures of unknown keys (name and key id not both known) are ignored, as the spec requires;
    a known key's signature that fails raises :class:`InvalidNoteSignature`; no verified signature
    raises :class:`UnverifiedNote`; a note that does not parse raises :class:`MalformedNote`.
    """
    known = _known_keys(verifiers)
    note = _decode_note(signed)
    # The text may hold blank lines: the signatures follow the *last* one.
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNote("signature lines end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"more than {MAX_SIGNATURES} signatures")
    message = text.encode("utf-8")
    verified: list[str] = []
    for line in lines:
        name, key_id, signature = _parse_signature_line(line)
        verifier = known.get((name, key_id))
        if verifier is None:
            continue
        if not verifier.verify(message, signature):
            raise InvalidNoteSignature(f"invalid signature for key {name}+{key_id.hex()}")
        if name not in verified:
            verified.append(name)
    if not verified:
        raise UnverifiedNote("no signature from a known key")
    return text, verified


# --- Checkpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 9162 root hash, optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in (self.origin, *self.extensions):
            if not isinstance(line, str) or not line or "\n" in line or _has_control_characters(line):
                raise MalformedCheckpoint("origin and extension lines are non-empty single lines")
        size_is_int = isinstance(self.size, int) and not isinstance(self.size, bool)
        if not size_is_int or not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpoint("tree size is an integer from 0 to 2**64-1")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpoint(f"root hash has {HASH_SIZE} bytes")

    def body(self) -> bytes:
        """The checkpoint's note text: the bytes its signatures sign."""
        lines = [self.origin, str(self.size), _b64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines).encode("utf-8")


def parse_checkpoint(text: bytes | str) -> Checkpoint:
    """Parse checkpoint note text strictly; raises :class:`MalformedCheckpoint`."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedCheckpoint("checkpoint text is UTF-8") from exc
    if not text.endswith("\n"):
        raise MalformedCheckpoint("checkpoint text ends in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise MalformedCheckpoint("a checkpoint is at least three non-empty lines")
    origin, size_text, root_text, *extensions = lines
    if not _TREE_SIZE.fullmatch(size_text):
        raise MalformedCheckpoint("tree size is decimal without leading zeros")
    try:
        root_hash = _b64decode_strict(root_text)
    except ValueError as exc:
        raise MalformedCheckpoint("root hash is not standard base64") from exc
    return Checkpoint(origin, int(size_text), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The checkpoint as a note signed by ``signer``."""
    return sign_note(checkpoint.body().decode("utf-8"), [signer])


def open_checkpoint(signed: str | bytes, verifier: NoteVerifier, origin: str) -> Checkpoint:
    """Verify a signed checkpoint of the log ``origin``; raises NoteError or CheckpointError.

    The signature is checked before the text is parsed: unverified text is never interpreted.
    """
    text, _ = open_note(signed, [verifier])
    checkpoint = parse_checkpoint(text)
    if checkpoint.origin != origin:
        raise OriginMismatch(f"checkpoint of {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint
