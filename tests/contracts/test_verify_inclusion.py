"""verifyInclusion and isAnchoredLeaf agree with the Python RFC 9162 §2.1.3.2 verifier.

The sweep over every index of every tree size 1..64 makes thousands of eth_calls, so it runs
on the embedded chain only; the tampering matrix over sample sizes runs on both chains. A
rejection is ``False``, never a revert (a revert would raise from ``chain.call``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pytest

from ledger.chain import Chain, Deployment, deploy
from ledger.chain.registry import AnchorRegistryClient, BatchKind
from ledger.proofs import (
    MerkleTree,
    ProofError,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    verify_inclusion,
)
from tests.contracts.helpers import b32

SWEEP_SIZES = range(1, 65)
SAMPLE_SIZES = (1, 2, 3, 7, 8, 9, 33, 64)
MAX_UINT64 = 2**64 - 1
MAX_PROOF = 64


@cache
def tree(size: int) -> MerkleTree:
    """A tree of ``size`` distinct leaves; trees of different sizes share their prefix."""
    return MerkleTree(leaf(i) for i in range(size))


@cache
def leaf(index: int) -> bytes:
    return leaf_hash(b"desensitised credit record %d" % index)


def flip(value: bytes, bit: int) -> bytes:
    """``value`` with one bit (0 = most significant of the first byte) inverted."""
    out = bytearray(value)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


def python_accepts(
    hashed_leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    try:
        verify_inclusion(hashed_leaf, index, size, proof, root)
    except ProofError:
        return False
    return True


def sample_indices(size: int) -> list[int]:
    """Every index of a small tree; the edges and the middle of a large one."""
    if size <= 9:
        return list(range(size))
    return sorted({0, 1, size // 2, size - 2, size - 1})


class Registry:
    """The deployed AnchorRegistry's two proof views, called directly."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.client = AnchorRegistryClient.from_deployment(chain, deployment)
        self.fns = self.client.contract.functions

    def verify(
        self, hashed_leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
    ) -> bool:
        fn = self.fns.verifyInclusion(hashed_leaf, index, size, list(proof), root)
        result = self.chain.call(fn)
        assert isinstance(result, bool)
        return result

    def anchored_leaf(
        self, hashed_leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
    ) -> bool:
        fn = self.fns.isAnchoredLeaf(hashed_leaf, index, size, list(proof), root)
        return bool(self.chain.call(fn))


@pytest.fixture
def embedded_registry(embedded_chain: Chain, data_dir: Path) -> Registry:
    deployment, _ = deploy(embedded_chain, data_dir)
    return Registry(embedded_chain, deployment)


@pytest.fixture
def registry(deployed: tuple[Chain, Deployment]) -> Registry:
    return Registry(*deployed)


# -- every index of every size 1..64 (embedded chain) ---------------------------------------


def test_every_proof_of_every_size_verifies(embedded_registry: Registry) -> None:
    disagreements = []
    for size in SWEEP_SIZES:
        t = tree(size)
        for index in range(size):
            proof = t.inclusion_proof(index)
            on_chain = embedded_registry.verify(leaf(index), index, size, proof, t.root)
            in_python = python_accepts(leaf(index), index, size, proof, t.root)
            if not (on_chain and in_python):
                disagreements.append((size, index, on_chain, in_python))
    assert disagreements == []


def test_every_size_rejects_proofs_with_a_flipped_bit(embedded_registry: Registry) -> None:
    """Every even index and the last one, for every size: one bit of the leaf, of the root or
    of one path element flipped, the flipped position rotating (leaf, root, last path element
    down to the first) from one index to the next."""
    accepted = []
    flipped: dict[int, set[str]] = {size: set() for size in SWEEP_SIZES}
    for size in SWEEP_SIZES:
        t = tree(size)
        for step, index in enumerate(sorted({*range(0, size, 2), size - 1})):
            parts = [leaf(index), *t.inclusion_proof(index), t.root]
            part, bit = -step % len(parts), (7 * size + 13 * index) % 256
            parts[part] = flip(parts[part], bit)
            last = len(parts) - 1
            flipped[size].add("leaf" if part == 0 else "root" if part == last else f"p{part - 1}")
            args = (parts[0], index, size, parts[1:-1], parts[-1])
            if embedded_registry.verify(*args) or python_accepts(*args):
                accepted.append((size, index, part, bit))
    assert accepted == []
    # Every size of 4 and more saw the leaf, the root and a path element flipped; across the
    # sweep, every path position of a 64-leaf tree was.
    for size in SWEEP_SIZES[3:]:
        assert {"leaf", "root"} < flipped[size], size
    assert set().union(*flipped.values()) == {"leaf", "root", *(f"p{k}" for k in range(6))}


# -- tampering on sample sizes (both chains) -------------------------------------------------


def test_sample_proofs_reject_any_flipped_bit(registry: Registry) -> None:
    for size in SAMPLE_SIZES:
        t = tree(size)
        for index in sample_indices(size):
            parts = [leaf(index), *t.inclusion_proof(index), t.root]
            assert registry.verify(parts[0], index, size, parts[1:-1], parts[-1])
            for part in range(len(parts)):
                bit = (37 * index + 101 * part) % 256
                bad = [*parts]
                bad[part] = flip(bad[part], bit)
                assert not registry.verify(bad[0], index, size, bad[1:-1], bad[-1]), (
                    size,
                    index,
                    part,
                    bit,
                )


def test_sample_proofs_reject_a_wrong_index(registry: Registry) -> None:
    for size in SAMPLE_SIZES:
        t = tree(size)
        for index in sample_indices(size):
            proof = t.inclusion_proof(index)
            others = range(size) if size <= 9 else (index - 1, index + 1)
            wrong = [i for i in others if 0 <= i < size and i != index]
            wrong += [size, size + 1, MAX_UINT64]  # not in the tree at all
            for other in wrong:
                assert not python_accepts(leaf(index), other, size, proof, t.root)
                assert not registry.verify(leaf(index), other, size, proof, t.root), (
                    size,
                    index,
                    other,
                )


def test_sample_proofs_reject_a_path_of_the_wrong_length(registry: Registry) -> None:
    for size in SAMPLE_SIZES:
        t = tree(size)
        for index in sample_indices(size):
            proof = t.inclusion_proof(index)
            padding = [b32(f"pad {k}") for k in range(MAX_PROOF + 1 - len(proof))]
            wrong = [[*proof, t.root], [*proof, bytes(32)], [*proof, *padding]]
            if proof:  # truncated, shifted, emptied, doubled
                wrong += [proof[:-1], proof[1:], [], [*proof, *proof]]
            for path in wrong:
                assert not python_accepts(leaf(index), index, size, path, t.root)
                assert not registry.verify(leaf(index), index, size, path, t.root), (
                    size,
                    index,
                    len(path),
                )


def test_a_path_cannot_climb_above_its_tree_size(registry: Registry) -> None:
    """One more genuine level on top of a valid path leads to a real root of a larger tree
    (this tree as its right or left half); at the claimed size it must still fail."""
    neighbour = b32("neighbouring subtree")
    for size in SAMPLE_SIZES:
        t = tree(size)
        for index in sample_indices(size):
            proof = [*t.inclusion_proof(index), neighbour]
            for root in (node_hash(neighbour, t.root), node_hash(t.root, neighbour)):
                assert not python_accepts(leaf(index), index, size, proof, root)
                assert not registry.verify(leaf(index), index, size, proof, root), (size, index)
    # Concretely: leaf 4 of 8 is not leaf 0 of a 4-leaf tree with the 8-leaf root.
    proof = tree(8).inclusion_proof(4)
    assert registry.verify(leaf(4), 4, 8, proof, tree(8).root)
    assert not registry.verify(leaf(4), 0, 4, proof, tree(8).root)


def test_a_wrong_tree_size_is_judged_as_python_judges_it(registry: Registry) -> None:
    """RFC 9162 lets a proof verify at some other sizes with the same root; never at 2n or 0."""
    also_verified = 0
    for size in SAMPLE_SIZES:
        t = tree(size)
        for index in sample_indices(size):
            proof = t.inclusion_proof(index)
            for other in {size - 1, size + 1, size // 2, 2 * size, 0, MAX_UINT64} - {size}:
                expected = python_accepts(leaf(index), index, other, proof, t.root)
                got = registry.verify(leaf(index), index, other, proof, t.root)
                assert got == expected, (size, index, other)
                also_verified += got
            assert not registry.verify(leaf(index), index, 2 * size, proof, t.root)
            assert not registry.verify(leaf(index), index, 0, proof, t.root)
    assert also_verified > 0  # the size ± 1 cases do include accepted ones
    # Pinned: leaf 0's proof in the tree of 8 also verifies at sizes 5, 6 and 7.
    proof = tree(8).inclusion_proof(0)
    on_chain = {n for n in range(17) if registry.verify(leaf(0), 0, n, proof, tree(8).root)}
    assert on_chain == {5, 6, 7, 8}
    assert on_chain == {n for n in range(17) if python_accepts(leaf(0), 0, n, proof, tree(8).root)}


def path_length(index: int, size: int) -> int:
    """The one path length the Python verifier accepts for ``index`` in a tree of ``size``."""
    (length,) = (n for n in range(MAX_PROOF + 1) if _fits(index, size, n))
    return length


def _fits(index: int, size: int, length: int) -> bool:
    try:
        root_from_inclusion_proof(leaf(0), index, size, [bytes(32)] * length)
    except ProofError:
        return False
    return True


#: (index, tree size) far beyond any tree built here, up to the uint64 limit.
HUGE = [
    (0, MAX_UINT64),  # the longest path: 64 hashes
    (MAX_UINT64 - 1, MAX_UINT64),
    (2**63, MAX_UINT64),
    (2**63 - 1, 2**63),
    (2**32 + 5, 2**33 + 1),
]


def test_huge_trees_agree_with_python_up_to_64_hashes(registry: Registry) -> None:
    """Paths of arbitrary hashes, rooted by the Python verifier's own computation."""
    assert path_length(0, MAX_UINT64) == MAX_PROOF
    for index, size in HUGE:
        length = path_length(index, size)
        proof = [b32(f"sibling {index} {k}") for k in range(length)]
        root = root_from_inclusion_proof(leaf(1), index, size, proof)
        assert registry.verify(leaf(1), index, size, proof, root), (index, size)
        assert not registry.verify(leaf(1), index, size, proof, flip(root, 100))
        assert not registry.verify(leaf(1), index, size, proof[:-1], root)
        assert not registry.verify(leaf(1), index, size, [*proof, root], root)
    # A 65th hash never verifies, whatever it is; nor does a long run of them.
    proof = [b32(f"sibling 0 {k}") for k in range(MAX_PROOF)]
    root = root_from_inclusion_proof(leaf(1), 0, MAX_UINT64, proof)
    assert not registry.verify(leaf(1), 0, MAX_UINT64, [*proof, proof[-1]], root)
    assert not registry.verify(leaf(1), 0, MAX_UINT64, [bytes(32)] * 500, root)


# -- isAnchoredLeaf (both chains) --------------------------------------------------------------


ANCHORED_SIZES = (1, 3, 8, 33)


def test_is_anchored_leaf_needs_that_root_anchored_with_that_size(registry: Registry) -> None:
    t8 = tree(8)
    assert not registry.anchored_leaf(leaf(0), 0, 8, t8.inclusion_proof(0), t8.root)
    for size in ANCHORED_SIZES:
        registry.client.anchor(
            b32(f"batch {size}"), tree(size).root, size, BatchKind.CREDIT_DATA, b32(f"m {size}")
        )
    for size in ANCHORED_SIZES:
        t = tree(size)
        for index in sample_indices(size):
            proof = t.inclusion_proof(index)
            assert registry.anchored_leaf(leaf(index), index, size, proof, t.root), (size, index)
            assert not registry.anchored_leaf(flip(leaf(index), 3), index, size, proof, t.root)
            assert not registry.anchored_leaf(leaf(index), size, size, proof, t.root)
    # Leaf 0 of 8 verifies at sizes 5..7 too, but the root is anchored with size 8 only.
    for other in (5, 6, 7):
        assert registry.verify(leaf(0), 0, other, t8.inclusion_proof(0), t8.root)
        assert not registry.anchored_leaf(leaf(0), 0, other, t8.inclusion_proof(0), t8.root)
    # Valid proofs against roots that were never anchored.
    for size in (2, 7, 9, 64):
        t = tree(size)
        proof = t.inclusion_proof(size - 1)
        assert registry.verify(leaf(size - 1), size - 1, size, proof, t.root)
        assert not registry.anchored_leaf(leaf(size - 1), size - 1, size, proof, t.root)


def test_is_anchored_leaf_trusts_the_anchored_size_only(registry: Registry) -> None:
    """A root anchored with a wrong size: proofs count only when they verify at that size."""
    t = tree(9)
    registry.client.anchor(b32("liar"), t.root, 10, BatchKind.INQUIRY_LOG, b32("liar m"))
    for index in range(9):
        proof = t.inclusion_proof(index)
        assert registry.verify(leaf(index), index, 9, proof, t.root)
        assert not registry.anchored_leaf(leaf(index), index, 9, proof, t.root)
        at_ten = python_accepts(leaf(index), index, 10, proof, t.root)
        assert registry.verify(leaf(index), index, 10, proof, t.root) == at_ten
        assert registry.anchored_leaf(leaf(index), index, 10, proof, t.root) == at_ten
