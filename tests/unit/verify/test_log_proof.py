"""A certificate's log entry checked offline: every step of ``verify.log_proof`` can fail."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verify.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from verify.log_proof import (
    CheckpointNotTrusted,
    LogProof,
    MalformedLogProof,
    NotIncluded,
    WrongSubject,
    check_log_proof,
)
from verify.merkle import MemoryTree, inclusion_proof, leaf_hash

ORIGIN = "registry.example.cn/registry-log"


def _event(n: int, key: str) -> str:
    event = {"v": 1, "action": "certificate:suspend", "subject": {"type": "certificate", "key": key}, "n": n}
    return json.dumps(event, sort_keys=True, separators=(",", ":"))


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


def _proof(signer: NoteSigner, index: int = 5, size: int = 11) -> LogProof:
    leaves = [_event(n, "CB-A/A-0001" if n == index else f"CB-B/{n}") for n in range(size)]
    tree = MemoryTree([leaf_hash(leaf.encode()) for leaf in leaves])
    note = sign_checkpoint(Checkpoint(ORIGIN, size, tree.root()), signer)
    return LogProof(index, size, note, leaves[index], tuple(inclusion_proof(index, size, tree)))


def test_a_good_proof_holds_and_round_trips_through_json(signer: NoteSigner) -> None:
    proof = _proof(signer)
    again = LogProof.from_json(json.loads(json.dumps(proof.as_json())))
    assert again == proof
    checkpoint = check_log_proof(again, signer.verifier(), body_code="CB-A", number="A-0001")
    assert checkpoint.size == 11


def test_each_step_fails_on_its_own(signer: NoteSigner) -> None:
    good = _proof(signer)
    check = lambda proof, **kw: check_log_proof(  # noqa: E731
        proof, kw.get("verifier", signer.verifier()), body_code="CB-A", number=kw.get("number", "A-0001"))
    other = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32)))
    with pytest.raises(CheckpointNotTrusted):
        check(good, verifier=other.verifier())
    with pytest.raises(CheckpointNotTrusted):
        check(dataclasses.replace(good, checkpoint=good.checkpoint.replace("\n11\n", "\n12\n")))
    with pytest.raises(NotIncluded):
        check(dataclasses.replace(good, size=12))
    with pytest.raises(NotIncluded):
        check(dataclasses.replace(good, index=4))
    with pytest.raises(NotIncluded):
        check(dataclasses.replace(good, leaf=good.leaf.replace("suspend", "restore")))
    with pytest.raises(NotIncluded):
        check(dataclasses.replace(good, proof=(bytes(32), *good.proof[1:])))
    with pytest.raises(WrongSubject):
        check(good, number="A-0002")


@pytest.mark.parametrize("document", [
    None, [], {"index": 1}, {"index": "1", "size": 2, "checkpoint": "", "leaf": "", "proof": []},
    {"index": 1, "size": 2, "checkpoint": "", "leaf": "", "proof": ["not base64!"]},
])
def test_malformed_documents_are_refused(document: object) -> None:
    with pytest.raises(MalformedLogProof):
        LogProof.from_json(document)
