"""The fast tree against a slow reference written straight from the RFC text.

``ref_mth``, ``ref_path`` and ``ref_proof`` transcribe the recursive
definitions of RFC 6962 §2.1 (MTH), §2.1.1 (PATH) and §2.1.2 (PROOF/SUBPROOF),
over the entries themselves and with hashlib only. ``rfc9162_*_ok`` transcribe
the verification steps of RFC 9162 §2.1.3.2 and §2.1.4.2 literally, including
the ``sn`` checks that ``ledger.proofs`` replaces with an up-front path length
check; the tests show both reject exactly the same proofs.

This code lives only here: it is quadratic and recursive on purpose.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.proofs import (
    MerkleTree,
    ProofError,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

MAX_EXHAUSTIVE_SIZE = 64  # every index and every old size of every tree up to here
MAX_RANDOM_SIZE = 3000  # hypothesis sizes: several levels of odd promotions, still fast


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """RFC 6962 §2.1: k is the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH(D[n])."""
    n = len(entries)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + entries[0])
    k = _split(n)
    return _sha256(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:]))


def ref_path(m: int, entries: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n])."""
    n = len(entries)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*ref_path(m, entries[:k]), ref_mth(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_mth(entries[:k])]


def ref_subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    """RFC 6962 §2.1.2 SUBPROOF(m, D[n], b)."""
    n = len(entries)
    if m == n:
        return [] if b else [ref_mth(entries)]
    k = _split(n)
    if m <= k:
        return [*ref_subproof(m, entries[:k], b), ref_mth(entries[k:])]
    return [*ref_subproof(m - k, entries[k:], False), ref_mth(entries[:k])]


def ref_proof(m: int, entries: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.2 PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
    return ref_subproof(m, entries, True)


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


def rfc9162_inclusion_ok(
    hash_: bytes, leaf_index: int, tree_size: int, inclusion_path: list[bytes], root_hash: bytes
) -> bool:
    """RFC 9162 §2.1.3.2, one numbered step at a time."""
    if leaf_index >= tree_size:  # 1
        return False
    fn, sn = leaf_index, tree_size - 1  # 2
    r = hash_  # 3
    for p in inclusion_path:  # 4
        if sn == 0:  # 4a
            return False
        if fn & 1 or fn == sn:  # 4b
            r = _node(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1  # 4c
    return sn == 0 and r == root_hash  # 5


def rfc9162_consistency_ok(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2, one numbered step at a time (for 0 < first < second)."""
    if not path:  # 1
        return False
    if first & (first - 1) == 0:  # 2
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1  # 3
    while fn & 1:  # 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # 5
    for c in path[1:]:  # 6
        if sn == 0:  # 6a
            return False
        if fn & 1 or fn == sn:  # 6b
            fr, sr = _node(c, fr), _node(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1  # 6c
    return fr == first_hash and sr == second_hash and sn == 0  # 7


def _entries(n: int) -> list[bytes]:
    return [b"credit record %d" % i for i in range(n)]


ENTRIES = _entries(MAX_RANDOM_SIZE)
LEAF_HASHES = [leaf_hash(e) for e in ENTRIES]
EXHAUSTIVE_SIZES = range(1, MAX_EXHAUSTIVE_SIZE + 1)


def test_reference_reproduces_a_published_root() -> None:
    # RFC 6962 vectors from transparency-dev/merkle testonly/constants.go (see
    # test_merkle_vectors.py): the reference itself must be right.
    entries = [bytes.fromhex(x) for x in ("", "00", "10", "2021", "3031", "40414243")]
    assert ref_mth(entries).hex() == (
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"
    )


@pytest.mark.parametrize("size", EXHAUSTIVE_SIZES)
def test_root_agrees_with_reference(size: int) -> None:
    expected = ref_mth(ENTRIES[:size])
    assert root(LEAF_HASHES[:size]) == expected
    assert MerkleTree(LEAF_HASHES[:size]).root == expected


@pytest.mark.parametrize("size", EXHAUSTIVE_SIZES)
def test_every_inclusion_proof_agrees_with_reference(size: int) -> None:
    tree = MerkleTree(LEAF_HASHES[:size])
    for index in range(size):
        assert tree.inclusion_proof(index) == ref_path(index, ENTRIES[:size]), index


@pytest.mark.parametrize("size", EXHAUSTIVE_SIZES)
def test_every_consistency_proof_agrees_with_reference(size: int) -> None:
    tree = MerkleTree(LEAF_HASHES[:size])
    for old_size in range(1, size + 1):
        assert tree.consistency_proof(old_size) == ref_proof(old_size, ENTRIES[:size]), old_size


def _accepts_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], top: bytes) -> bool:
    try:
        verify_inclusion(leaf, index, size, path, top)
    except ProofError:
        return False
    return True


def _accepts_consistency(m: int, n: int, old: bytes, new: bytes, path: list[bytes]) -> bool:
    try:
        verify_consistency(m, n, old, new, path)
    except ProofError:
        return False
    return True


def _path_variants(path: list[bytes], junk: bytes) -> list[list[bytes]]:
    """The right path, one hash short, one too many at either end."""
    return [path, path[:-1], path[1:], [*path, junk], [junk, *path]]


@pytest.mark.parametrize("size", range(1, 33))
def test_inclusion_verifier_accepts_exactly_what_rfc9162_accepts(size: int) -> None:
    tree = MerkleTree(LEAF_HASHES[:size])
    for index in range(size):
        path = tree.inclusion_proof(index)
        for claimed_index in {index, index - 1, index + 1, index ^ 2} - {-1}:
            for claimed_size in {size, size - 1, size + 1, size * 2, size // 2} - {0}:
                for variant in _path_variants(path, tree.root):
                    args = (LEAF_HASHES[index], claimed_index, claimed_size, variant, tree.root)
                    assert _accepts_inclusion(*args) == rfc9162_inclusion_ok(*args), args[1:3]


@pytest.mark.parametrize("size", range(2, 33))
def test_consistency_verifier_accepts_exactly_what_rfc9162_accepts(size: int) -> None:
    tree = MerkleTree(LEAF_HASHES[:size])
    for old_size in range(1, size):
        path = tree.consistency_proof(old_size)
        old_root = root(LEAF_HASHES[:old_size])
        for m in {old_size - 1, old_size, old_size + 1} - {0}:
            for n in {size - 1, size, size + 1} - set(range(m + 1)):
                for variant in _path_variants(path, tree.root):
                    args = (m, n, old_root, tree.root, variant)
                    assert _accepts_consistency(*args) == rfc9162_consistency_ok(*args), (m, n)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_random_large_trees_agree_with_reference(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=MAX_RANDOM_SIZE), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    old_size = data.draw(st.integers(min_value=1, max_value=size), label="old_size")
    entries = ENTRIES[:size]
    tree = MerkleTree(LEAF_HASHES[:size])
    assert tree.root == ref_mth(entries)
    assert tree.inclusion_proof(index) == ref_path(index, entries)
    assert tree.consistency_proof(old_size) == ref_proof(old_size, entries)
