"""RFC 9162 Merkle trees: transparency-dev's vectors, the CT reference tree, exhaustive small trees,
random large ones, tampering, and the subtree rows a database-backed log stores."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verify.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    MerkleError,
    ProofError,
    RootMismatch,
    append_to_frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_frontier,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "vectors" / "merkle"
ABSENT = f"{VECTORS} is absent (a clone without ../shared): the RFC 9162 vectors were not run"

# The tree of RFC 6962's reference implementation, which transparency-dev's vectors are built on.
REFERENCE_HEX = "00 10 2021 3031 40414243 5051525354555657 606162636465666768696a6b6c6d6e6f"
REFERENCE_LEAVES = [b"", *(bytes.fromhex(text) for text in REFERENCE_HEX.split())]
REFERENCE_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def vector_params(kind: str) -> list[Any]:
    """One case per JSON file under ``VECTORS/kind``, with its relative path as test id."""
    if not VECTORS.is_dir():
        return [pytest.param(None, id=f"{kind}-vectors-absent", marks=pytest.mark.skip(reason=ABSENT))]
    return [
        pytest.param(path, id=path.relative_to(VECTORS).as_posix())
        for path in sorted(VECTORS.glob(f"{kind}/**/*.json"))
    ]


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def proof_of(case: dict[str, Any]) -> list[bytes]:
    return [unb64(element) for element in case["proof"] or []]


def random_leaf_hashes(size: int, seed: bytes) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(seed + index.to_bytes(4, "big")).digest()) for index in range(size)]


def flip_bit(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


class DictStore:
    """A database stand-in: only the rows append() returned, and a log of what was read."""

    def __init__(self, rows: dict[tuple[int, int], bytes]) -> None:
        self.rows = rows
        self.reads: list[tuple[int, int]] = []

    def subtree(self, level: int, index: int) -> bytes:
        self.reads.append((level, index))
        return self.rows[(level, index)]


# --- Hashing and the reference tree --------------------------------------------------------------


def test_hashes_are_domain_separated_sha256():
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == root_from_leaf_hashes([])
    assert root(0, MemoryTree()) == EMPTY_ROOT


def test_reference_tree_roots_are_known_answers():
    hashes = [leaf_hash(leaf) for leaf in REFERENCE_LEAVES]
    tree = MemoryTree(hashes)
    for size, expected in enumerate(REFERENCE_ROOTS, start=1):
        assert root_from_leaf_hashes(hashes[:size]).hex() == expected
        assert root(size, tree).hex() == expected


# --- transparency-dev vectors --------------------------------------------------------------------


@pytest.mark.parametrize("path", vector_params("inclusion"))
def test_inclusion_vector(path: Path):
    case = load(path)
    arguments = (
        unb64(case["leafHash"]),
        case["leafIdx"],
        case["treeSize"],
        proof_of(case),
        unb64(case["root"]),
    )
    if case["wantErr"]:
        with pytest.raises(MerkleError):
            verify_inclusion(*arguments)
    else:
        verify_inclusion(*arguments)


@pytest.mark.parametrize("path", vector_params("consistency"))
def test_consistency_vector(path: Path):
    case = load(path)
    arguments = (case["size1"], case["size2"], proof_of(case), unb64(case["root1"]), unb64(case["root2"]))
    if case["wantErr"]:
        with pytest.raises(MerkleError):
            verify_consistency(*arguments)
    else:
        verify_consistency(*arguments)


def test_vector_folders_hold_both_outcomes():
    if not VECTORS.is_dir():
        pytest.skip(ABSENT)
    for kind in ("inclusion", "consistency"):
        outcomes = {load(path)["wantErr"] for path in VECTORS.glob(f"{kind}/**/*.json")}
        assert outcomes == {True, False}, kind


def test_generator_reproduces_the_published_happy_paths_byte_for_byte():
    if not VECTORS.is_dir():
        pytest.skip(ABSENT)
    tree = MemoryTree([leaf_hash(leaf) for leaf in REFERENCE_LEAVES])
    reference_root = {size: bytes.fromhex(text) for size, text in enumerate(REFERENCE_ROOTS, start=1)}
    compared = 0
    for path in sorted(VECTORS.glob("*/**/*.json")):
        case = load(path)
        if case["wantErr"]:
            continue
        if "leafIdx" in case and reference_root.get(case["treeSize"]) == unb64(case["root"]):
            assert inclusion_proof(case["leafIdx"], case["treeSize"], tree) == proof_of(case), path
            compared += 1
        elif "size1" in case and reference_root.get(case["size2"]) == unb64(case["root2"]):
            assert consistency_proof(case["size1"], case["size2"], tree) == proof_of(case), path
            compared += 1
    assert compared >= 10


# --- Exhaustive small trees and random large ones ------------------------------------------------


def test_every_proof_of_every_small_tree_verifies():
    hashes = random_leaf_hashes(64, b"exhaustive")
    tree = MemoryTree(hashes)
    roots = {size: root_from_leaf_hashes(hashes[:size]) for size in range(1, 65)}
    for size in range(1, 65):
        assert root(size, tree) == roots[size]
        for index in range(size):
            verify_inclusion(hashes[index], index, size, inclusion_proof(index, size, tree), roots[size])
        for old_size in range(1, size + 1):
            proof = consistency_proof(old_size, size, tree)
            verify_consistency(old_size, size, proof, roots[old_size], roots[size])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(1, 300), seed=st.binary(max_size=8))
def test_every_proof_of_a_random_tree_verifies(size: int, seed: bytes):
    hashes = random_leaf_hashes(size, seed)
    tree = MemoryTree(hashes)
    assert tree.size == size
    roots = {prefix: root_from_leaf_hashes(hashes[:prefix]) for prefix in range(1, size + 1)}
    for prefix in range(1, size + 1):
        assert root(prefix, tree) == roots[prefix]
    for index in range(size):
        proof = inclusion_proof(index, size, tree)
        assert root_from_inclusion_proof(hashes[index], index, size, proof) == roots[size]
        verify_inclusion(hashes[index], index, size, proof, roots[size])
    for old_size in range(1, size + 1):
        verify_consistency(
            old_size, size, consistency_proof(old_size, size, tree), roots[old_size], roots[size]
        )


@st.composite
def tree_and_position(draw: st.DrawFn) -> tuple[list[bytes], MemoryTree, int, int]:
    """A random tree, a tree size within it and an index below that size."""
    hashes = random_leaf_hashes(draw(st.integers(1, 300)), draw(st.binary(max_size=8)))
    size = draw(st.integers(1, len(hashes)))
    return hashes, MemoryTree(hashes), size, draw(st.integers(0, size - 1))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=tree_and_position(), data=st.data())
def test_tampered_inclusion_proofs_are_refused(
    drawn: tuple[list[bytes], MemoryTree, int, int], data: st.DataObject
):
    hashes, tree, size, index = drawn
    proof = inclusion_proof(index, size, tree)
    good_root = tree.root(size)
    verify_inclusion(hashes[index], index, size, proof, good_root)

    if proof:
        element = data.draw(st.integers(0, len(proof) - 1))
        tampered = [*proof]
        tampered[element] = flip_bit(proof[element], data.draw(st.integers(0, 255)))
        with pytest.raises(RootMismatch):
            verify_inclusion(hashes[index], index, size, tampered, good_root)
    for other_index in (index - 1, index + 1):
        with pytest.raises(MerkleError):
            verify_inclusion(hashes[index], other_index, size, proof, good_root)
    # A size is only meaningful with its own root: the proof must not fit the neighbouring trees.
    for other_size in (size - 1, size + 1):
        if other_size <= tree.size:
            with pytest.raises(MerkleError):
                verify_inclusion(hashes[index], index, other_size, proof, tree.root(other_size))
    with pytest.raises(RootMismatch):
        verify_inclusion(
            hashes[index], index, size, proof, flip_bit(good_root, data.draw(st.integers(0, 255)))
        )
    with pytest.raises(RootMismatch):
        verify_inclusion(leaf_hash(b"not in the log"), index, size, proof, good_root)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=tree_and_position(), data=st.data())
def test_tampered_consistency_proofs_are_refused(
    drawn: tuple[list[bytes], MemoryTree, int, int], data: st.DataObject
):
    _, tree, size2, index = drawn
    size1 = index + 1
    proof = consistency_proof(size1, size2, tree)
    root1, root2 = tree.root(size1), tree.root(size2)
    verify_consistency(size1, size2, proof, root1, root2)

    if proof:
        element = data.draw(st.integers(0, len(proof) - 1))
        tampered = [*proof]
        tampered[element] = flip_bit(proof[element], data.draw(st.integers(0, 255)))
        with pytest.raises(RootMismatch):
            verify_consistency(size1, size2, tampered, root1, root2)
    else:
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, [root1], root1, root2)
    for other_size1 in (size1 - 1, size1 + 1):
        other_root1 = tree.root(other_size1) if other_size1 <= tree.size else root1
        with pytest.raises(MerkleError):
            verify_consistency(other_size1, size2, proof, other_root1, root2)
    for other_size2 in (size2 - 1, size2 + 1):
        if other_size2 <= tree.size:
            with pytest.raises(MerkleError):
                verify_consistency(size1, other_size2, proof, root1, tree.root(other_size2))
    bit = data.draw(st.integers(0, 255))
    with pytest.raises(RootMismatch):
        verify_consistency(size1, size2, proof, flip_bit(root1, bit), root2)
    with pytest.raises(RootMismatch):
        verify_consistency(size1, size2, proof, root1, flip_bit(root2, bit))


def test_a_proof_does_not_bind_the_tree_size_alone():
    """Why checkpoints sign the size with the root: leaf 0's path in a tree of 3 has the shape of
    its path in a tree of 4, so the pair (size 4, root of 3) passes. With the root of 4 it fails."""
    tree = MemoryTree(random_leaf_hashes(4, b"shape"))
    proof = inclusion_proof(0, 3, tree)
    verify_inclusion(tree.subtree(0, 0), 0, 4, proof, tree.root(3))
    with pytest.raises(RootMismatch):
        verify_inclusion(tree.subtree(0, 0), 0, 4, proof, tree.root(4))


# --- What a database-backed log stores -----------------------------------------------------------


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(1, 300), seed=st.binary(max_size=8), data=st.data())
def test_append_returns_exactly_the_rows_a_store_needs(size: int, seed: bytes, data: st.DataObject):
    hashes = random_leaf_hashes(size, seed)
    tree, rows = MemoryTree(), {}
    for count, hashed in enumerate(hashes, start=1):
        completed = tree.append(hashed)
        assert completed[0] == (0, count - 1, hashed)
        for level, index, subtree_hash in completed:
            assert (level, index) not in rows  # each complete subtree is reported once ...
            assert (index + 1) << level == count  # ... by the append that completed it
            rows[(level, index)] = subtree_hash
    assert len(rows) == 2 * size - size.bit_count()

    store = DictStore(rows)
    for tree_size in range(1, size + 1):
        store.reads.clear()
        assert root(tree_size, store) == root_from_leaf_hashes(hashes[:tree_size])
        assert_reads_within(store, tree_size)
    for _ in range(10):
        tree_size = data.draw(st.integers(1, size))
        index = data.draw(st.integers(0, tree_size - 1))
        store.reads.clear()
        assert inclusion_proof(index, tree_size, store) == inclusion_proof(index, tree_size, tree)
        assert_reads_within(store, tree_size)
        store.reads.clear()
        assert consistency_proof(index + 1, tree_size, store) == consistency_proof(index + 1, tree_size, tree)
        assert_reads_within(store, tree_size)


def assert_reads_within(store: DictStore, tree_size: int) -> None:
    """Reads stay inside the first ``tree_size`` leaves and are O(log n) in number."""
    assert all((index + 1) << level <= tree_size for level, index in store.reads)
    assert len(store.reads) <= 2 * tree_size.bit_length() + 1


# --- Refused inputs ------------------------------------------------------------------------------


def test_errors_form_one_value_error_hierarchy():
    assert issubclass(ProofError, MerkleError) and issubclass(RootMismatch, MerkleError)
    assert issubclass(MerkleError, ValueError)


def test_bad_indexes_sizes_and_element_lengths_are_proof_errors():
    tree = MemoryTree(random_leaf_hashes(5, b"bad"))
    leaf, good_root = tree.subtree(0, 1), tree.root(5)
    proof = inclusion_proof(1, 5, tree)
    verify_inclusion(leaf, 1, 5, proof, good_root)
    for index, size in ((-1, 5), (5, 5), (0, 0)):
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, proof, good_root)
        with pytest.raises(ProofError):
            inclusion_proof(index, size, tree)
    with pytest.raises(ProofError, match="bytes"):
        verify_inclusion(leaf, 1, 5, [proof[0][:31], *proof[1:]], good_root)
    with pytest.raises(ProofError, match="leaf hash"):
        verify_inclusion(leaf + b"\x00", 1, 5, proof, good_root)
    with pytest.raises(ProofError, match="too short"):
        verify_inclusion(leaf, 1, 5, proof[:-1], good_root)
    with pytest.raises(ProofError, match="too long"):
        verify_inclusion(leaf, 1, 5, [*proof, proof[0]], good_root)


def test_consistency_edge_cases():
    tree = MemoryTree(random_leaf_hashes(6, b"edges"))
    root3, root6 = tree.root(3), tree.root(6)
    verify_consistency(3, 3, [], root3, root3)
    with pytest.raises(RootMismatch):
        verify_consistency(3, 3, [], root3, root6)
    with pytest.raises(ProofError, match="empty"):
        verify_consistency(3, 3, [root3], root3, root3)
    with pytest.raises(ProofError):
        verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)  # RFC 9162: only 0 < size1
    with pytest.raises(ProofError):
        verify_consistency(0, 6, consistency_proof(1, 6, tree), EMPTY_ROOT, root6)
    with pytest.raises(ProofError):
        verify_consistency(6, 3, [], root6, root3)
    with pytest.raises(ProofError, match="empty"):
        verify_consistency(3, 6, [], root3, root6)
    proof = consistency_proof(3, 6, tree)
    with pytest.raises(ProofError, match="bytes"):
        verify_consistency(3, 6, [*proof[:-1], proof[-1] + b"\x00"], root3, root6)
    for size1, size2 in ((0, 6), (0, 0), (4, 3)):
        with pytest.raises(ProofError):
            consistency_proof(size1, size2, tree)
    assert consistency_proof(6, 6, tree) == []


def test_memory_tree_refuses_bad_leaves_and_incomplete_subtrees():
    tree = MemoryTree(random_leaf_hashes(3, b"memory"))
    with pytest.raises(MerkleError):
        tree.append(b"short")
    assert tree.subtree(1, 0) == node_hash(tree.subtree(0, 0), tree.subtree(0, 1))
    for level, index in ((1, 1), (2, 0), (0, 3), (-1, 0)):
        with pytest.raises(LookupError):
            tree.subtree(level, index)
    with pytest.raises(LookupError):
        inclusion_proof(0, 4, tree)  # the source cannot answer for leaves it does not hold


@given(st.lists(st.binary(min_size=0, max_size=8), min_size=1, max_size=140))
def test_the_frontier_appends_as_the_memory_tree(leaves: list[bytes]) -> None:
    """A log that keeps only its frontier stores the same subtrees and reaches the same roots."""
    tree = MemoryTree()
    frontier: list[bytes] = []
    for size, data in enumerate(leaves):
        hashed = leaf_hash(data)
        frontier, completed = append_to_frontier(size, frontier, hashed)
        assert completed == tree.append(hashed)
        assert root_from_frontier(frontier) == tree.root()
    with pytest.raises(MerkleError):
        append_to_frontier(len(leaves), [*frontier, leaf_hash(b"x")], leaf_hash(b"y"))  # disagree
