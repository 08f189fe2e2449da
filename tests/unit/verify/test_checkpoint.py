"""C2SP checkpoints and signed notes: golang.org/x/mod/sumdb/note known answers, the C2SP examples,
strict parsing, and every tampering refused."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.verify.support import seeded_key
from verify.checkpoint import (
    Checkpoint,
    InvalidNoteSignature,
    MalformedCheckpoint,
    MalformedNote,
    NoteError,
    NoteKeyError,
    NoteSigner,
    NoteVerifier,
    OriginMismatch,
    UnverifiedNote,
    ed25519_key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    sign_checkpoint,
    sign_note,
)

# golang.org/x/mod/sumdb/note/note_test.go
PETER_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_KEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6"
    "KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WW"
    "d1RvMc+QQ=\n"
)

# c2sp.org/tlog-checkpoint and c2sp.org/signed-note (their keys are not published: format only).
C2SP_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
C2SP_NOTE = (
    "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n"
    "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xM"
    "cXxj99ihAQwaqP3ZekRwNtIc=\n"
)

ORIGIN = "registry.example.cn/log"
ROOT_HASH = bytes(range(32))


@pytest.fixture
def log_signer() -> NoteSigner:
    return NoteSigner(ORIGIN, seeded_key("checkpoint-log"))


@pytest.fixture
def checkpoint() -> Checkpoint:
    return Checkpoint(ORIGIN, 1234, ROOT_HASH)


def resign_line(line: str, change: int) -> str:
    """A signature line with byte ``change`` of the raw signature (after the key id) flipped."""
    name, encoded = line.removeprefix("— ").rstrip("\n").split(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[4 + change] ^= 0x01
    return f"— {name} {base64.b64encode(bytes(raw)).decode()}\n"


# --- Known answers -------------------------------------------------------------------------------


def test_x_mod_note_signature_is_reproduced_byte_for_byte():
    signer = NoteSigner.from_key_string(PETER_SIGNER_KEY)
    assert (signer.name, signer.key_id.hex()) == ("PeterNeumann", "c74f20a3")
    assert sign_note(PETER_TEXT, [signer]) == PETER_TEXT + "\n" + PETER_SIG
    assert signer.private_key_string() == PETER_SIGNER_KEY
    assert signer.verifier().key_string() == PETER_KEY


def test_x_mod_note_opens_with_our_verifier():
    verifier = NoteVerifier(PETER_KEY)
    assert verifier.key_string() == PETER_KEY
    assert ed25519_key_id("PeterNeumann", verifier.public_key).hex() == "c74f20a3"
    assert open_note(PETER_TEXT + "\n" + PETER_SIG, [verifier]) == (PETER_TEXT, ["PeterNeumann"])
    assert open_note((PETER_TEXT + "\n" + PETER_SIG).encode(), [verifier])[1] == ["PeterNeumann"]


def test_signatures_of_unknown_keys_are_ignored_and_known_ones_all_count():
    signed = PETER_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    peter, enoch = NoteVerifier(PETER_KEY), NoteVerifier(ENOCH_KEY)
    assert open_note(signed, [peter]) == (PETER_TEXT, ["PeterNeumann"])
    assert open_note(signed, [enoch, peter])[1] == ["PeterNeumann", "EnochRoot"]
    assert open_note(PETER_TEXT + "\n" + PETER_SIG + PETER_SIG, [peter, peter])[1] == ["PeterNeumann"]
    with pytest.raises(UnverifiedNote):
        open_note(signed, [])
    with pytest.raises(UnverifiedNote):
        open_note(PETER_TEXT + "\n" + ENOCH_SIG, [peter])


def test_the_c2sp_examples_are_well_formed():
    # Well formed but signed by keys we do not know: refused as unverified, not as malformed.
    for example in (C2SP_CHECKPOINT, C2SP_NOTE):
        with pytest.raises(UnverifiedNote):
            open_note(example, [NoteVerifier(PETER_KEY)])
    parsed = parse_checkpoint(C2SP_CHECKPOINT.split("\n\n")[0] + "\n")
    assert (parsed.origin, parsed.size) == ("example.com/behind-the-sofa", 20852163)
    assert parsed.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")


# --- Signed notes --------------------------------------------------------------------------------


def test_a_known_key_whose_signature_fails_rejects_the_note():
    peter = NoteVerifier(PETER_KEY)
    for change in (0, 31, 63):
        with pytest.raises(InvalidNoteSignature, match="PeterNeumann\\+c74f20a3"):
            open_note(PETER_TEXT + "\n" + resign_line(PETER_SIG, change), [peter])
    # Even next to a good signature, and even from a key that also signed correctly.
    with pytest.raises(InvalidNoteSignature):
        open_note(PETER_TEXT + "\n" + PETER_SIG + resign_line(PETER_SIG, 5), [peter])
    with pytest.raises(InvalidNoteSignature):
        open_note(PETER_TEXT.replace("problem", "answer", 1) + "\n" + PETER_SIG, [peter])


@pytest.mark.parametrize(
    "signed",
    [
        PETER_TEXT,
        PETER_TEXT + "\n",
        PETER_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + PETER_TEXT + "\n" + PETER_SIG,
        PETER_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter Neumann"),
        PETER_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter+Neumann"),
        PETER_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        PETER_TEXT + "\n" + PETER_SIG.replace("— ", "-- "),
        PETER_TEXT + "\n" + PETER_SIG.replace("AM=", "AM"),
        PETER_TEXT + "\n" + PETER_SIG.replace("AM=", "AN="),  # non-canonical base64 tail
        PETER_TEXT + "\n" + "— PeterNeumann x08gow==\n",  # key id but no signature
        PETER_TEXT + "\n" + PETER_SIG.replace("\n", "\r\n"),
        PETER_TEXT + "\n" + PETER_SIG * 101,
    ],
)
def test_malformed_notes_are_refused(signed: str):
    with pytest.raises(MalformedNote):
        open_note(signed, [NoteVerifier(PETER_KEY)])


def test_invalid_utf8_is_a_malformed_note():
    with pytest.raises(MalformedNote):
        open_note(b"\xff" + (PETER_TEXT + "\n" + PETER_SIG).encode(), [NoteVerifier(PETER_KEY)])
    with pytest.raises(MalformedNote):
        open_note("\ud800" + PETER_TEXT + "\n" + PETER_SIG, [NoteVerifier(PETER_KEY)])


def test_note_text_may_hold_blank_lines_the_signatures_follow_the_last_one(log_signer):
    text = "first paragraph\n\nsecond paragraph\n\n"
    signed = sign_note(text, [log_signer])
    assert open_note(signed, [log_signer.verifier()]) == (text, [ORIGIN])


def test_sign_note_refuses_what_cannot_be_opened(log_signer):
    for text in ("no newline", "", "tab\there\n", "cr\r\n"):
        with pytest.raises(MalformedNote):
            sign_note(text, [log_signer])
    with pytest.raises(MalformedNote):
        sign_note("unsigned\n", [])


def test_two_signers_and_the_exact_signed_bytes(log_signer):
    witness = NoteSigner("witness.example/w1", seeded_key("witness"))
    signed = sign_note("hello\n", [log_signer, witness])
    assert open_note(signed, [witness.verifier(), log_signer.verifier()])[1] == [ORIGIN, "witness.example/w1"]
    first_line = signed.split("\n")[2]
    raw = base64.b64decode(first_line.split(" ")[2])
    assert raw[:4] == log_signer.key_id and len(raw) == 4 + 64
    log_signer.verifier().public_key.verify(raw[4:], b"hello\n")  # raises if the bytes differ


# --- Keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\tname", "nbsp\u00a0name", "line\nname"])
def test_invalid_key_names_are_refused(name: str):
    with pytest.raises(NoteKeyError):
        NoteSigner(name, seeded_key("x"))
    with pytest.raises(NoteKeyError):
        NoteVerifier.from_public_key(name, seeded_key("x").public_key())


@pytest.mark.parametrize("key", [PETER_KEY, PETER_SIGNER_KEY])
def test_every_mangled_key_string_is_refused(key: str):
    parse = NoteSigner.from_key_string if key.startswith("PRIVATE") else NoteVerifier
    parse(key)
    manglings = {key[start:end] for start in range(len(key)) for end in range(start + 1, len(key) + 1)}
    manglings |= {key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))}
    manglings.discard(key)
    for mangled in manglings:
        with pytest.raises(NoteKeyError):
            parse(mangled)


def test_key_strings_with_other_algorithms_or_lengths_are_refused():
    with pytest.raises(NoteKeyError, match="Ed25519"):
        NoteVerifier("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    with pytest.raises(NoteKeyError):
        NoteVerifier("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")


def test_signer_and_verifier_round_trip_and_the_seed_stays_out_of_repr(log_signer):
    again = NoteSigner.from_key_string(log_signer.private_key_string())
    assert again.key_id == log_signer.key_id
    verifier = NoteVerifier(log_signer.verifier().key_string())
    assert (
        verifier.public_key.public_bytes_raw() == seeded_key("checkpoint-log").public_key().public_bytes_raw()
    )
    seed_text = log_signer.private_key_string().rsplit("+", 1)[1]
    assert seed_text not in repr(log_signer)
    assert isinstance(verifier.public_key, Ed25519PublicKey)


# --- Checkpoints ---------------------------------------------------------------------------------


def test_checkpoint_body_layout_and_round_trip(checkpoint):
    root_text = base64.b64encode(ROOT_HASH).decode()
    assert checkpoint.body() == f"{ORIGIN}\n1234\n{root_text}\n".encode()
    assert parse_checkpoint(checkpoint.body()) == checkpoint
    assert parse_checkpoint(checkpoint.body().decode()) == checkpoint
    extended = Checkpoint(ORIGIN, 0, ROOT_HASH, ("ext one", "ext two"))
    assert extended.body().endswith(b"\next one\next two\n")
    assert parse_checkpoint(extended.body()) == extended


@settings(max_examples=100, deadline=None)
@given(
    origin=st.text(alphabet=st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1),
    size=st.integers(0, 2**64 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
)
def test_any_checkpoint_round_trips(origin: str, size: int, root_hash: bytes):
    checkpoint = Checkpoint(origin, size, root_hash)
    assert parse_checkpoint(checkpoint.body()) == checkpoint


ROOT_LINE = base64.b64encode(ROOT_HASH).decode()
URLSAFE_LINE = base64.urlsafe_b64encode(b"\xff" * 32).decode()
SHORT_LINE = base64.b64encode(ROOT_HASH[:31]).decode()
LONG_LINE = base64.b64encode(ROOT_HASH + b"x").decode()


@pytest.mark.parametrize(
    "text",
    [
        f"{ORIGIN}\n1234\n{ROOT_LINE}",  # no trailing newline
        f"{ORIGIN}\n01234\n{ROOT_LINE}\n",  # leading zero
        f"{ORIGIN}\n00\n{ROOT_LINE}\n",
        f"{ORIGIN}\n-1\n{ROOT_LINE}\n",
        f"{ORIGIN}\n+1\n{ROOT_LINE}\n",
        f"{ORIGIN}\n 1\n{ROOT_LINE}\n",
        f"{ORIGIN}\n1_000\n{ROOT_LINE}\n",
        f"{ORIGIN}\n١٢\n{ROOT_LINE}\n",  # non-ASCII digits
        f"{ORIGIN}\n{2**64}\n{ROOT_LINE}\n",
        f"{ORIGIN}\n\n{ROOT_LINE}\n",
        f"{ORIGIN}\n1234\n{ROOT_LINE[:-1]}\n",  # missing padding
        f"{ORIGIN}\n1234\n{ROOT_LINE[:-2]}9=\n",  # non-canonical: "8=" with a tail bit set
        f"{ORIGIN}\n1234\n{URLSAFE_LINE}\n",  # base64url alphabet
        f"{ORIGIN}\n1234\nnot base64!\n",
        f"{ORIGIN}\n1234\n{SHORT_LINE}\n",
        f"{ORIGIN}\n1234\n{LONG_LINE}\n",
        f"\n1234\n{ROOT_LINE}\n",  # empty origin
        f"{ORIGIN}\n1234\n",
        f"{ORIGIN}\n1234\n{ROOT_LINE}\n\n",  # empty extension line
        f"{ORIGIN}\n1234\n{ROOT_LINE}\r\n",
        f"{ORIGIN}\x00\n1234\n{ROOT_LINE}\n",
    ],
)
def test_strict_checkpoint_parsing(text: str):
    with pytest.raises(MalformedCheckpoint):
        parse_checkpoint(text)


def test_checkpoint_fields_are_validated():
    with pytest.raises(MalformedCheckpoint):
        parse_checkpoint(b"\xff\n1\n" + ROOT_LINE.encode() + b"\n")
    for origin, size, root_hash, extensions in [
        ("", 1, ROOT_HASH, ()),
        ("two\nlines", 1, ROOT_HASH, ()),
        (ORIGIN, -1, ROOT_HASH, ()),
        (ORIGIN, 2**64, ROOT_HASH, ()),
        (ORIGIN, True, ROOT_HASH, ()),
        (ORIGIN, 1, ROOT_HASH[:31], ()),
        (ORIGIN, 1, ROOT_HASH, ("",)),
        (ORIGIN, 1, ROOT_HASH, ("a\nb",)),
    ]:
        with pytest.raises(MalformedCheckpoint):
            Checkpoint(origin, size, root_hash, extensions)


def test_signed_checkpoint_round_trip(checkpoint, log_signer):
    signed = sign_checkpoint(checkpoint, log_signer)
    assert signed.startswith(checkpoint.body().decode() + "\n— " + ORIGIN + " ")
    assert open_checkpoint(signed, log_signer.verifier(), ORIGIN) == checkpoint
    assert open_checkpoint(signed.encode(), log_signer.verifier(), ORIGIN) == checkpoint
    # A witness cosignature from a key we do not know is ignored.
    cosigned = (
        signed + sign_note(checkpoint.body().decode(), [NoteSigner("w", seeded_key("w"))]).split("\n\n")[1]
    )
    assert open_checkpoint(cosigned, log_signer.verifier(), ORIGIN) == checkpoint


def test_tampered_signed_checkpoints_are_refused(checkpoint, log_signer):
    signed = sign_checkpoint(checkpoint, log_signer)
    verifier = log_signer.verifier()
    with pytest.raises(InvalidNoteSignature):
        open_checkpoint(signed.replace("\n1234\n", "\n1235\n"), verifier, ORIGIN)
    text, line = signed.split("\n\n")
    with pytest.raises(InvalidNoteSignature):
        open_checkpoint(text + "\n\n" + resign_line(line, 10), verifier, ORIGIN)
    other_key = NoteVerifier.from_public_key(ORIGIN, seeded_key("another log key").public_key())
    with pytest.raises(UnverifiedNote):
        open_checkpoint(signed, other_key, ORIGIN)
    with pytest.raises(OriginMismatch):
        open_checkpoint(signed, verifier, "registry.example.cn/other-log")
    with pytest.raises(MalformedNote):
        open_checkpoint(checkpoint.body(), verifier, ORIGIN)


def test_a_signed_note_that_is_no_checkpoint_is_refused_after_verification(log_signer):
    signed = sign_note(f"{ORIGIN}\n12\n", [log_signer])
    with pytest.raises(MalformedCheckpoint):
        open_checkpoint(signed, log_signer.verifier(), ORIGIN)
    assert issubclass(InvalidNoteSignature, NoteError) and issubclass(NoteError, ValueError)
