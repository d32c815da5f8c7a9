"""Hash definitions, input checks, limits and the typed errors of ledger.proofs."""

from __future__ import annotations

import hashlib
import pickle

import pytest

from ledger.errors import InputError, IntegrityError, LedgerError
from ledger.proofs import (
    MAX_CONSISTENCY_PROOF_LENGTH,
    MAX_INCLUSION_PROOF_LENGTH,
    MAX_TREE_SIZE,
    ConsistencyProofError,
    InclusionProofError,
    LeafHashError,
    MerkleTree,
    ProofError,
    RootMismatchError,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

A = bytes.fromhex("aa" * 32)
B = bytes.fromhex("0B" * 32)


def test_leaf_and_node_hashes_are_the_rfc6962_definitions() -> None:
    assert leaf_hash(b"credit") == hashlib.sha256(b"\x00credit").digest()
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(A, B) == hashlib.sha256(b"\x01" + A + B).digest()
    assert node_hash(A, B) != node_hash(B, A)


def test_a_leaf_cannot_pose_as_a_node() -> None:
    # The 0x00 / 0x01 prefixes (RFC 6962 §2.1) separate the two domains.
    assert leaf_hash(A + B) != node_hash(A, B)


def test_single_leaf_tree_root_is_the_leaf_hash() -> None:
    leaf = leaf_hash(b"only")
    tree = MerkleTree([leaf])
    assert tree.root == root([leaf]) == leaf
    assert tree.inclusion_proof(0) == []
    verify_inclusion(leaf, 0, 1, [], leaf)


def test_tree_accepts_any_iterable_and_copies_it() -> None:
    leaves = [leaf_hash(b"%d" % i) for i in range(5)]
    tree = MerkleTree(iter(leaves))
    leaves.append(leaf_hash(b"late"))
    assert tree.size == 5
    assert tree.root == root(leaves[:5])


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, "a" * 32])
def test_leaf_hashes_must_be_32_bytes(bad: bytes) -> None:
    leaves = [A, B, bad, A]
    for build in (root, MerkleTree):
        with pytest.raises(LeafHashError, match="position 2 is not a 32-byte") as err:
            build(leaves)
        assert err.value.position == 2
        assert isinstance(err.value, InputError)
        assert "leaf_hash(data)" in err.value.diagnostics()


@pytest.mark.parametrize("index", [-1, 3, 4])
def test_inclusion_proof_outside_the_tree_is_refused(index: int) -> None:
    with pytest.raises(InclusionProofError, match="in a tree of 3 leaves") as err:
        MerkleTree([A, B, A]).inclusion_proof(index)
    assert (err.value.leaf_index, err.value.tree_size) == (index, 3)


def test_empty_tree_has_no_proofs() -> None:
    with pytest.raises(InclusionProofError):
        MerkleTree([]).inclusion_proof(0)
    with pytest.raises(ConsistencyProofError):
        MerkleTree([]).consistency_proof(0)


@pytest.mark.parametrize("old_size", [-1, 0, 4])
def test_consistency_proof_needs_an_old_size_within_the_tree(old_size: int) -> None:
    with pytest.raises(ConsistencyProofError, match=r"must be 1\.\.3") as err:
        MerkleTree([A, B, A]).consistency_proof(old_size)
    assert (err.value.old_size, err.value.new_size) == (old_size, 3)


def test_inclusion_limits_fit_the_largest_anchorable_tree() -> None:
    # A uint64 tree size needs at most 64 path hashes: a 64-hash path for the
    # first leaf is well formed (it just leads elsewhere); 65 is refused unread.
    path = [A] * MAX_INCLUSION_PROOF_LENGTH
    with pytest.raises(RootMismatchError):
        verify_inclusion(B, 0, MAX_TREE_SIZE, path, A)
    with pytest.raises(InclusionProofError, match="more than 64"):
        verify_inclusion(B, 0, MAX_TREE_SIZE, [*path, A], A)
    with pytest.raises(InclusionProofError, match="more than 64"):
        verify_inclusion(B, 0, MAX_TREE_SIZE, [b"x"] * 10**6, A)


def test_consistency_limits_fit_the_largest_anchorable_tree() -> None:
    # 3 -> 2**64 - 1 needs the old subtree plus 64 hashes: the longest proof.
    path = [A] * MAX_CONSISTENCY_PROOF_LENGTH
    with pytest.raises(RootMismatchError):
        verify_consistency(3, MAX_TREE_SIZE, A, B, path)
    with pytest.raises(ConsistencyProofError, match="more than 65"):
        verify_consistency(3, MAX_TREE_SIZE, A, B, [*path, A])


def test_root_mismatch_shows_both_roots_as_lower_case_0x_hex() -> None:
    err = RootMismatchError(expected_root=A, calculated_root=B)
    assert str(err) == f"calculated root 0x{'0b' * 32} does not match expected root 0x{'aa' * 32}"
    assert (err.expected_root, err.calculated_root) == (A, B)
    assert err.code == "root-mismatch"
    assert err.hint is not None
    assert err.diagnostics().startswith(str(err))


def test_proof_errors_belong_to_the_integrity_family() -> None:
    for cls in (RootMismatchError, InclusionProofError, ConsistencyProofError):
        assert issubclass(cls, ProofError)
        assert issubclass(cls, IntegrityError)
        assert issubclass(cls, LedgerError)
    assert ProofError.code == "proof-invalid"
    assert issubclass(LeafHashError, InputError)


@pytest.mark.parametrize(
    "err",
    [
        RootMismatchError(expected_root=A, calculated_root=B, hint="check the anchor"),
        InclusionProofError("bad path", leaf_index=3, tree_size=8, hint="h"),
        ConsistencyProofError("bad proof", old_size=3, new_size=8),
        LeafHashError("bad leaf", position=7),
    ],
)
def test_errors_pickle_with_their_data(err: LedgerError) -> None:
    copy = pickle.loads(pickle.dumps(err))  # noqa: S301 - bytes this test just made
    assert type(copy) is type(err)
    assert vars(copy) == vars(err)
    assert str(copy) == str(err)
