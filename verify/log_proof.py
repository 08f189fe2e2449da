"""A certificate's place in the transparency log, checked offline.

The registry's verification answer can carry a log proof: the signed checkpoint of the log, the
index of the leaf that logs the certificate's latest change, that leaf's data (the audit event's
canonical JSON) and the RFC 9162 inclusion proof. Anyone holding the log's verifier key (the
signed-note key string from ``GET /log/key``) can check that the registry committed, in a log it
cannot rewrite without being caught, to exactly that record of this certificate.

Checks, in order (each failure raises a specific :class:`LogProofError`): the checkpoint's
signature and origin; the proof's size is the checkpoint's; the leaf is included at its index
under the checkpoint's root; the leaf names the certificate the seal names.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from verify.checkpoint import Checkpoint, CheckpointError, NoteError, NoteVerifier, open_checkpoint
from verify.merkle import MerkleError, leaf_hash, verify_inclusion


class LogProofError(ValueError):
    """A log proof that does not hold; ``code`` names the step that failed."""

    code = "log_proof"


class MalformedLogProof(LogProofError):
    code = "malformed"


class CheckpointNotTrusted(LogProofError):
    code = "checkpoint_not_trusted"


class NotIncluded(LogProofError):
    code = "not_included"


class WrongSubject(LogProofError):
    code = "wrong_subject"


@dataclass(frozen=True)
class LogProof:
    """The log proof of one leaf, as the verification API returns it under ``log``."""

    index: int
    size: int
    checkpoint: str
    leaf: str
    proof: tuple[bytes, ...]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: hashes in standard base64, as in the checkpoint itself."""
        return {
            "index": self.index,
            "size": self.size,
            "checkpoint": self.checkpoint,
            "leaf": self.leaf,
            "proof": [base64.b64encode(node).decode("ascii") for node in self.proof],
        }

    @classmethod
    def from_json(cls, document: Any) -> LogProof:
        """Read :meth:`as_json`'s form (or the ``log`` object of a verification answer)."""
        if not isinstance(document, dict):
            raise MalformedLogProof("a log proof is a JSON object")
        try:
            index, size = document["index"], document["size"]
            checkpoint, leaf, proof = document["checkpoint"], document["leaf"], document["proof"]
            if not (isinstance(index, int) and isinstance(size, int) and isinstance(proof, list)):
                raise TypeError("index and size are integers, proof a list")
            if not (isinstance(checkpoint, str) and isinstance(leaf, str)):
                raise TypeError("checkpoint and leaf are text")
            nodes = tuple(base64.b64decode(node, validate=True) for node in proof)
        except (KeyError, TypeError, binascii.Error) as exc:
            raise MalformedLogProof(f"not a log proof: {exc}") from exc
        return cls(index, size, checkpoint, leaf, nodes)


def check_log_proof(proof: LogProof, verifier: NoteVerifier, *, body_code: str, number: str) -> Checkpoint:
    """Check ``proof`` with the log's verifier key for certificate ``body_code``/``number``.

    Returns the verified checkpoint; raises a :class:`LogProofError` subclass otherwise.
    """
    origin = proof.checkpoint.split("\n", 1)[0]
    try:
        checkpoint = open_checkpoint(proof.checkpoint, verifier, origin)
    except (NoteError, CheckpointError) as exc:
        raise CheckpointNotTrusted(f"the checkpoint is not signed by the log's key: {exc}") from exc
    if proof.size != checkpoint.size:
        raise NotIncluded(
            f"the proof is for a log of {proof.size} leaves, the checkpoint has {checkpoint.size}"
        )
    try:
        verify_inclusion(leaf_hash(proof.leaf.encode("utf-8")), proof.index, proof.size, proof.proof,
                         checkpoint.root_hash)
    except MerkleError as exc:
        raise NotIncluded(f"leaf {proof.index} is not in the checkpoint's log: {exc}") from exc
    try:
        subject = json.loads(proof.leaf)["subject"]
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedLogProof("the leaf is not an audit event") from exc
    expected = {"type": "certificate", "key": f"{body_code}/{number}"}
    if subject != expected:
        raise WrongSubject(f"the leaf logs {subject}, not certificate {body_code}/{number}")
    return checkpoint
