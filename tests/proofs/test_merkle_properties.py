"""Prove -> verify round trips, and every kind of tampering fails with a typed error.

Exhaustive for every tree size 1..64 (every index, every old size); hypothesis
adds random sizes up to a few thousand leaves.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.proofs import (
    ConsistencyProofError,
    InclusionProofError,
    MerkleTree,
    ProofError,
    RootMismatchError,
    leaf_hash,
    root,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

MAX_EXHAUSTIVE_SIZE = 64
MAX_RANDOM_SIZE = 3000
SIZES = range(1, MAX_EXHAUSTIVE_SIZE + 1)
LEAF_HASHES = [leaf_hash(b"record %d" % i) for i in range(MAX_RANDOM_SIZE)]
PREFIX_ROOTS = [root(LEAF_HASHES[:n]) for n in range(MAX_EXHAUSTIVE_SIZE + 1)]
TREES = {n: MerkleTree(LEAF_HASHES[:n]) for n in SIZES}
JUNK = bytes(range(32))


def flip(value: bytes, bit: int = 0) -> bytes:
    """``value`` with one bit flipped (bit 0 = the lowest bit of the first byte)."""
    out = bytearray(value)
    out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def replace(path: list[bytes], position: int, value: bytes) -> list[bytes]:
    return [value if i == position else h for i, h in enumerate(path)]


def assert_mismatch(
    err: pytest.ExceptionInfo[ProofError], expected: bytes, calculated: bytes
) -> None:
    assert isinstance(err.value, RootMismatchError)
    assert err.value.expected_root == expected
    assert err.value.calculated_root == calculated
    assert expected != calculated


@pytest.mark.parametrize("size", SIZES)
def test_inclusion_round_trip(size: int) -> None:
    tree = TREES[size]
    for index in range(size):
        proof = tree.inclusion_proof(index)
        assert len(proof) <= (size - 1).bit_length()
        assert root_from_inclusion_proof(LEAF_HASHES[index], index, size, proof) == tree.root
        verify_inclusion(LEAF_HASHES[index], index, size, proof, tree.root)


@pytest.mark.parametrize("size", SIZES)
def test_consistency_round_trip(size: int) -> None:
    tree = TREES[size]
    for old_size in range(1, size + 1):
        proof = tree.consistency_proof(old_size)
        verify_consistency(old_size, size, PREFIX_ROOTS[old_size], tree.root, proof)


@pytest.mark.parametrize("size", SIZES)
def test_flipped_bit_anywhere_in_inclusion_is_root_mismatch(size: int) -> None:
    tree = TREES[size]
    for index in range(size):
        leaf, proof = LEAF_HASHES[index], tree.inclusion_proof(index)
        for position, bit in ((p, 8 * p + index) for p in range(len(proof))):
            bad = replace(proof, position, flip(proof[position], bit))
            with pytest.raises(ProofError) as err:
                verify_inclusion(leaf, index, size, bad, tree.root)
            calculated = root_from_inclusion_proof(leaf, index, size, bad)
            assert_mismatch(err, expected=tree.root, calculated=calculated)
        with pytest.raises(ProofError) as err:
            verify_inclusion(flip(leaf, index), index, size, proof, tree.root)
        calculated = root_from_inclusion_proof(flip(leaf, index), index, size, proof)
        assert_mismatch(err, expected=tree.root, calculated=calculated)
        with pytest.raises(ProofError) as err:
            verify_inclusion(leaf, index, size, proof, flip(tree.root, 255))
        assert_mismatch(err, expected=flip(tree.root, 255), calculated=tree.root)


@pytest.mark.parametrize("size", SIZES)
def test_wrong_index_or_size_fails_inclusion(size: int) -> None:
    # Other sizes may share a path (index 0 of 5..8 leaves): the root binds the
    # size only through the anchor. Doubling or halving never does.
    tree = TREES[size]
    for index in range(size):
        leaf, proof = LEAF_HASHES[index], tree.inclusion_proof(index)
        for wrong_index in {index - 1, index + 1, index ^ 2} - {index}:
            with pytest.raises(ProofError):
                verify_inclusion(leaf, wrong_index, size, proof, tree.root)
        for wrong_size in {size * 2, size // 2} - {size}:
            with pytest.raises(ProofError):
                verify_inclusion(leaf, index, wrong_size, proof, tree.root)


@pytest.mark.parametrize("size", SIZES)
def test_truncated_or_extended_inclusion_path_is_malformed(size: int) -> None:
    tree = TREES[size]
    for index in range(size):
        leaf, proof = LEAF_HASHES[index], tree.inclusion_proof(index)
        variants = [[*proof, JUNK], [tree.root, *proof], [*proof, tree.root]]
        variants += [proof[:-1], proof[1:]] if proof else []
        for bad in variants:
            with pytest.raises(InclusionProofError) as err:
                verify_inclusion(leaf, index, size, bad, tree.root)
            assert (err.value.leaf_index, err.value.tree_size) == (index, size)
            assert "hashes" in str(err.value)


@pytest.mark.parametrize(
    ("index", "size"), [(-1, 8), (8, 8), (9, 8), (0, 0), (0, -1), (0, 2**64), (2**64, 2**64)]
)
def test_inclusion_outside_the_tree_is_malformed(index: int, size: int) -> None:
    with pytest.raises(InclusionProofError) as err:
        verify_inclusion(LEAF_HASHES[0], index, size, [], PREFIX_ROOTS[1])
    assert (err.value.leaf_index, err.value.tree_size) == (index, size)


def test_hashes_of_the_wrong_length_are_malformed() -> None:
    tree = TREES[5]
    leaf, proof, top = LEAF_HASHES[2], tree.inclusion_proof(2), tree.root
    cases = {
        "leaf hash": (leaf[:31], proof, top),
        "proof[1]": (leaf, replace(proof, 1, proof[1] + b"\x00"), top),
        "proof[0]": (leaf, replace(proof, 0, b""), top),
        "root": (leaf, proof, top[:16]),
    }
    for name, (bad_leaf, bad_proof, bad_root) in cases.items():
        with pytest.raises(InclusionProofError, match="^" + re.escape(name) + " is not"):
            verify_inclusion(bad_leaf, 2, 5, bad_proof, bad_root)


@pytest.mark.parametrize("size", range(2, MAX_EXHAUSTIVE_SIZE + 1))
def test_flipped_bit_anywhere_in_consistency_is_root_mismatch(size: int) -> None:
    tree = TREES[size]
    for old_size in range(1, size):
        old_root, proof = PREFIX_ROOTS[old_size], tree.consistency_proof(old_size)
        for position in range(len(proof)):
            bad = replace(proof, position, flip(proof[position], position + old_size))
            with pytest.raises(RootMismatchError) as err:
                verify_consistency(old_size, size, old_root, tree.root, bad)
            assert err.value.expected_root in (old_root, tree.root)
            assert err.value.calculated_root != err.value.expected_root
        for bad_old, bad_new in ((flip(old_root), tree.root), (old_root, flip(tree.root))):
            with pytest.raises(RootMismatchError) as err:
                verify_consistency(old_size, size, bad_old, bad_new, proof)
            assert err.value.expected_root in (bad_old, bad_new)


@pytest.mark.parametrize("size", range(2, MAX_EXHAUSTIVE_SIZE + 1))
def test_wrong_sizes_or_swapped_roots_fail_consistency(size: int) -> None:
    # As with inclusion, a neighbouring new size may share the proof's shape
    # (1 -> 7 and 1 -> 8): the anchor binds root and size. Any other old size,
    # or a doubled or halved new size, never verifies.
    tree = TREES[size]
    for old_size in range(1, size):
        old_root, proof = PREFIX_ROOTS[old_size], tree.consistency_proof(old_size)
        claims = [(m, size) for m in (old_size - 1, old_size + 1)]
        claims += [(old_size, n) for n in (size * 2, size // 2)]
        for m, n in claims:
            with pytest.raises(ProofError):
                verify_consistency(m, n, old_root, tree.root, proof)
        with pytest.raises(ProofError):
            verify_consistency(old_size, size, tree.root, old_root, proof)


@pytest.mark.parametrize("size", range(2, MAX_EXHAUSTIVE_SIZE + 1))
def test_truncated_or_extended_consistency_path_is_malformed(size: int) -> None:
    tree = TREES[size]
    for old_size in range(1, size):
        old_root, proof = PREFIX_ROOTS[old_size], tree.consistency_proof(old_size)
        variants = [[], proof[:-1], proof[1:], [*proof, JUNK], [old_root, *proof], [*proof, *proof]]
        for bad in variants:
            with pytest.raises(ConsistencyProofError) as err:
                verify_consistency(old_size, size, old_root, tree.root, bad)
            assert (err.value.old_size, err.value.new_size) == (old_size, size)


@pytest.mark.parametrize(("old_size", "new_size"), [(0, 0), (0, 5), (6, 5), (-1, 5), (1, 2**64)])
def test_consistency_sizes_out_of_order_are_malformed(old_size: int, new_size: int) -> None:
    with pytest.raises(ConsistencyProofError, match="are not 1 <= old <= new"):
        verify_consistency(old_size, new_size, PREFIX_ROOTS[1], PREFIX_ROOTS[5], [])


def test_equal_sizes_need_equal_roots_and_an_empty_proof() -> None:
    verify_consistency(5, 5, PREFIX_ROOTS[5], PREFIX_ROOTS[5], [])
    with pytest.raises(RootMismatchError) as err:
        verify_consistency(5, 5, PREFIX_ROOTS[5], PREFIX_ROOTS[4], [])
    assert err.value.expected_root == PREFIX_ROOTS[5]
    assert err.value.calculated_root == PREFIX_ROOTS[4]
    with pytest.raises(ConsistencyProofError, match="need 0"):
        verify_consistency(5, 5, PREFIX_ROOTS[5], PREFIX_ROOTS[5], [JUNK])


def test_consistency_roots_of_the_wrong_length_are_malformed() -> None:
    proof = TREES[7].consistency_proof(3)
    with pytest.raises(ConsistencyProofError, match=r"^old root is not"):
        verify_consistency(3, 7, PREFIX_ROOTS[3][1:], PREFIX_ROOTS[7], proof)
    with pytest.raises(ConsistencyProofError, match=r"^new root is not"):
        verify_consistency(3, 7, PREFIX_ROOTS[3], b"", proof)
    with pytest.raises(ConsistencyProofError, match=r"^proof\[2\] is not"):
        verify_consistency(3, 7, PREFIX_ROOTS[3], PREFIX_ROOTS[7], replace(proof, 2, b"x"))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_random_large_trees_round_trip_and_reject_tampering(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=2, max_value=MAX_RANDOM_SIZE), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    old_size = data.draw(st.integers(min_value=1, max_value=size - 1), label="old_size")
    tree = MerkleTree(LEAF_HASHES[:size])
    proof = tree.inclusion_proof(index)
    verify_inclusion(LEAF_HASHES[index], index, size, proof, tree.root)
    old_root, cproof = root(LEAF_HASHES[:old_size]), tree.consistency_proof(old_size)
    verify_consistency(old_size, size, old_root, tree.root, cproof)

    bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
    if proof:
        at = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="position")
        bad = replace(proof, at, flip(proof[at], bit))
        with pytest.raises(RootMismatchError):
            verify_inclusion(LEAF_HASHES[index], index, size, bad, tree.root)
    at = data.draw(st.integers(min_value=0, max_value=len(cproof) - 1), label="cposition")
    bad = replace(cproof, at, flip(cproof[at], bit))
    with pytest.raises(RootMismatchError):
        verify_consistency(old_size, size, old_root, tree.root, bad)
