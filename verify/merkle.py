"""RFC 9162 (Certificate Transparency v2) Merkle tree: hashing, proof generation and verification.

Pure Python over ``hashlib``; no storage. Three parts:

- Hashing: :func:`leaf_hash`, :func:`node_hash`, :data:`EMPTY_ROOT` and :func:`root_from_leaf_hashes`
  (the Merkle Tree Hash, RFC 9162 §2.1.1).
- Generation: :func:`inclusion_proof`, :func:`consistency_proof` and :func:`root` read a
  :class:`SubtreeHashes` source that only answers for *complete* (perfect) subtrees, so a log kept
  in a database reads O(log n) rows per proof. :class:`MemoryTree` is the in-memory source; its
  :meth:`MemoryTree.append` returns the subtree rows a database log must store.
- Verification: :func:`verify_inclusion` and :func:`verify_consistency` follow RFC 9162 §2.1.3.2 and
  §2.1.4.2 and raise :class:`MerkleError` subclasses; they never answer ``False``.

Subtree coordinates: ``(level, index)`` is the perfect subtree of ``2**level`` leaves starting at
leaf ``index * 2**level``; level 0 holds the leaf hashes themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class MerkleError(ValueError):
    """Base of every reason a Merkle proof, size or index is refused."""


class ProofError(MerkleError):
    """The proof cannot be checked: wrong length, element not 32 bytes, index or sizes out of range."""


class RootMismatch(MerkleError):
    """The proof is well formed but leads to a root other than the one given."""


# --- Hashing -------------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one log entry (RFC 9162 §2.1.1)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split_point(size: int) -> int:
    """The largest power of two strictly smaller than ``size`` (``size`` >= 2): RFC 9162's k."""
    return 1 << ((size - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of the given leaf hashes (RFC 9162 §2.1.1), by the definition itself.

    Deliberately independent of the subtree machinery below, so tests can compare the two.
    """

    def mth(start: int, end: int) -> bytes:
        if end - start == 1:
            return hashes[start]
        middle = start + _split_point(end - start)
        return node_hash(mth(start, middle), mth(middle, end))

    return mth(0, len(hashes)) if hashes else EMPTY_ROOT


# --- Generation from stored perfect subtrees -----------------------------------------------------


class SubtreeHashes(Protocol):
    """A source of hashes of complete subtrees, e.g. a table keyed by ``(level, index)``."""

    def subtree(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree of ``2**level`` leaves starting at leaf ``index * 2**level``."""
        ...


def _perfect(start: int, size: int, source: SubtreeHashes) -> bytes:
    """Hash of the perfect subtree of ``size`` (a power of two) leaves starting at leaf ``start``."""
    level = size.bit_length() - 1
    return source.subtree(level, start >> level)


def _range_hash(start: int, end: int, source: SubtreeHashes) -> bytes:
    """MTH of leaves ``[start, end)``, a subtree of the RFC 9162 recursion (``start`` is aligned).

    The range splits into perfect subtrees of decreasing size, left to right (the binary digits of
    its size); the MTH folds them from the right, which is exactly the RFC's recursive split.
    """
    parts: list[bytes] = []
    remaining = end - start
    while remaining:
        size = 1 << (remaining.bit_length() - 1)
        parts.append(_perfect(start, size, source))
        start += size
        remaining -= size
    result = parts.pop()
    while parts:
        result = node_hash(parts.pop(), result)
    return result


def root(tree_size: int, source: SubtreeHashes) -> bytes:
    """The root hash of the first ``tree_size`` leaves, in at most log2(n)+1 reads."""
    if tree_size < 0:
        raise ProofError(f"negative tree size {tree_size}")
    return _range_hash(0, tree_size, source) if tree_size else EMPTY_ROOT


def inclusion_proof(leaf_index: int, tree_size: int, source: SubtreeHashes) -> list[bytes]:
    """PATH(leaf_index, D[tree_size]) of RFC 9162 §2.1.3.1, ordered from the leaf up to the root."""
    if not 0 <= leaf_index < tree_size:
        raise ProofError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    siblings: list[bytes] = []
    start, end = 0, tree_size
    # Walk down from the root; every sibling on the left is perfect, one on the right may not be.
    while end - start > 1:
        middle = start + _split_point(end - start)
        if leaf_index < middle:
            siblings.append(_range_hash(middle, end, source))
            end = middle
        else:
            siblings.append(_perfect(start, middle - start, source))
            start = middle
    siblings.reverse()
    return siblings


def consistency_proof(size1: int, size2: int, source: SubtreeHashes) -> list[bytes]:
    """PROOF(size1, D[size2]) of RFC 9162 §2.1.4.1; empty when the sizes are equal.

    ``size1`` must be positive: the RFC defines consistency proofs only for 0 < size1 <= size2.
    """
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    nodes: list[bytes] = []
    start, end = 0, size2
    # ``whole_old_tree`` is SUBPROOF's flag b: true while D[start:end] still starts at leaf 0, in
    # which case the verifier already knows the old root and it is not sent.
    whole_old_tree = True
    while size1 - start < end - start:
        middle = start + _split_point(end - start)
        if size1 <= middle:
            nodes.append(_range_hash(middle, end, source))
            end = middle
        else:
            nodes.append(_perfect(start, middle - start, source))
            start = middle
            whole_old_tree = False
    if not whole_old_tree:
        nodes.append(_range_hash(start, end, source))
    nodes.reverse()
    return nodes


def append_to_frontier(
    size: int, frontier: Sequence[bytes], leaf_hash: bytes
) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """Append ``leaf_hash`` as leaf ``size`` to a tree known only by its frontier.

    The frontier is the hashes of the perfect subtrees along the tree's right edge, largest
    first: one per set bit of ``size``. Returns the new frontier and the ``(level, index, hash)``
    subtrees this leaf completed, leaf first (what :meth:`MemoryTree.append` returns), so a
    database log appends without reading any stored node.
    """
    if len(frontier) != bin(size).count("1"):
        raise MerkleError(f"a tree of {size} leaves has {bin(size).count('1')} frontier hashes")
    if len(leaf_hash) != HASH_SIZE:
        raise MerkleError(f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf_hash)}")
    remaining = list(frontier)
    hashed, level = leaf_hash, 0
    completed = [(0, size, leaf_hash)]
    while size >> level & 1:  # a perfect subtree of this level waits on the left: merge
        hashed = node_hash(remaining.pop(), hashed)
        level += 1
        completed.append((level, ((size + 1) >> level) - 1, hashed))
    remaining.append(hashed)
    return remaining, completed


def root_from_frontier(frontier: Sequence[bytes]) -> bytes:
    """The root hash of the tree whose frontier (largest subtree first) is ``frontier``."""
    if not frontier:
        return EMPTY_ROOT
    hashed = frontier[-1]
    for left in reversed(frontier[:-1]):
        hashed = node_hash(left, hashed)
    return hashed


class MemoryTree:
    """An append-only tree holding every complete subtree in memory; a :class:`SubtreeHashes`."""

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for hashed in leaf_hashes:
            self.append(hashed)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return len(self._levels[0])

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the ``(level, index, hash)`` subtrees it completed, leaf first.

        These are exactly the rows a database-backed log must store for this leaf: every perfect
        subtree is returned once, by the append that completed it.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise MerkleError(f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf_hash)}")
        level, hashed = 0, leaf_hash
        completed: list[tuple[int, int, bytes]] = []
        while True:
            if level == len(self._levels):
                self._levels.append([])
            row = self._levels[level]
            row.append(hashed)
            completed.append((level, len(row) - 1, hashed))
            if len(row) % 2:
                return completed
            hashed = node_hash(row[-2], row[-1])
            level += 1

    def subtree(self, level: int, index: int) -> bytes:
        """The stored hash of a complete subtree; ``LookupError`` when it is not complete yet."""
        if level < 0 or index < 0 or level >= len(self._levels) or index >= len(self._levels[level]):
            raise LookupError(f"no complete subtree at level {level}, index {index}")
        return self._levels[level][index]

    def root(self, tree_size: int | None = None) -> bytes:
        """Root hash at ``tree_size`` (default: the current size)."""
        return root(self.size if tree_size is None else tree_size, self)


# --- Verification --------------------------------------------------------------------------------


def _check_proof_elements(proof: Sequence[bytes]) -> None:
    for position, element in enumerate(proof):
        if len(element) != HASH_SIZE:
            raise ProofError(f"proof element {position} has {len(element)} bytes, not {HASH_SIZE}")


def root_from_inclusion_proof(
    leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` leads to from ``leaf_hash`` (RFC 9162 §2.1.3.2, steps 1-4 and sn == 0).

    Raises :class:`ProofError` when the index is out of range or the proof has the wrong length.
    """
    if not 0 <= leaf_index < tree_size:
        raise ProofError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"the leaf hash has {len(leaf_hash)} bytes, not {HASH_SIZE}")
    _check_proof_elements(proof)
    fn, sn, result = leaf_index, tree_size - 1, leaf_hash
    for sibling in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            # On the right border a node may have no right sibling: climb until it is a right child.
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return result


def verify_inclusion(
    leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``leaf_index`` of the tree of ``tree_size`` with ``root``.

    Returns nothing; raises :class:`ProofError` or :class:`RootMismatch`.
    """
    calculated = root_from_inclusion_proof(leaf_hash, leaf_index, tree_size, proof)
    if calculated != root:
        raise RootMismatch("inclusion proof leads to a different root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the tree of ``size1`` with ``root1``.

    RFC 9162 §2.1.4.2. Equal sizes need an empty proof and equal roots; ``size1 == 0`` is refused
    (the RFC defines consistency only for 0 < size1). Raises :class:`ProofError` or
    :class:`RootMismatch`; returns nothing.
    """
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:
        if proof:
            raise ProofError("equal sizes need an empty consistency proof")
        if root1 != root2:
            raise RootMismatch("equal sizes but different roots")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    _check_proof_elements(proof)
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        # The old tree is a perfect subtree of the new one: its root is the starting node.
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first_root = second_root = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            first_root = node_hash(node, first_root)
            second_root = node_hash(node, second_root)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            second_root = node_hash(second_root, node)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if first_root != root1:
        raise RootMismatch("consistency proof leads to a different old root")
    if second_root != root2:
        raise RootMismatch("consistency proof leads to a different new root")
