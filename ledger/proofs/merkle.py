"""RFC 6962 / RFC 9162 Merkle tree over SHA-256: roots, proofs and their verification.

Hashing is RFC 6962 §2.1 (= RFC 9162 §2.1.1): a leaf is ``SHA-256(0x00 || data)``,
an interior node ``SHA-256(0x01 || left || right)``, the empty tree ``SHA-256("")``.
Proofs are RFC 6962 §2.1.1 PATH (RFC 9162 §2.1.3.1) and RFC 6962 §2.1.2
PROOF/SUBPROOF (RFC 9162 §2.1.4.1); verification follows RFC 9162 §2.1.3.2 and
§2.1.4.2 step by step.

RFC 6962 splits ``n`` leaves at the largest power of two below ``n``. Building
bottom-up, pairing neighbours and moving an unpaired last node up unchanged
gives the same tree without recursion, so :class:`MerkleTree` keeps one list of
hashes per level and reads every proof off those lists in O(log n). Each level
is hashed from its nodes joined into one ``bytes``: a parent is one hashlib call
over a 64-byte slice, with no Python object per pair but the digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Final

from ledger.proofs.errors import (
    ConsistencyProofError,
    InclusionProofError,
    LeafHashError,
    RootMismatchError,
)

HASH_SIZE: Final = 32  # SHA-256 digest size; every leaf, node and root hash has it
MAX_TREE_SIZE: Final = 2**64 - 1  # AnchorRegistry stores treeSize as a uint64
# The longest paths a tree of MAX_TREE_SIZE leaves can need; a longer path is
# rejected before any hashing, so a DoS-sized proof costs nothing.
MAX_INCLUSION_PROOF_LENGTH: Final = 64  # one sibling per level of a 64-level tree
MAX_CONSISTENCY_PROOF_LENGTH: Final = 65  # those 64, plus the old tree's right-edge subtree

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()  # RFC 6962 §2.1: MTH({}) = SHA-256()
_LEAF_HASHER: Final = hashlib.sha256(b"\x00")  # copied per hash: the prefix is hashed once
_NODE_PREFIX: Final = b"\x01"
_PAIR: Final = 2 * HASH_SIZE


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 §2.1 leaf hash: ``SHA-256(0x00 || data)``."""
    hasher = _LEAF_HASHER.copy()
    hasher.update(data)
    return hasher.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 §2.1 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root_of(hashes: bytes) -> bytes:
    """The root of the tree over ``hashes``, 32-byte leaf hashes concatenated.

    The same as ``MerkleTree(leaves).root``, without keeping the levels.
    """
    if len(hashes) % HASH_SIZE:
        raise LeafHashError(f"leaf hashes must be {HASH_SIZE} bytes each", position=0)
    if not hashes:
        return EMPTY_ROOT
    level = hashes
    while len(level) > HASH_SIZE:
        level = b"".join(_parent_level(level))
    return level


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    for position, value in enumerate(leaf_hashes):
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise LeafHashError(
                f"leaf hash at position {position} is not a {HASH_SIZE}-byte SHA-256 digest",
                position=position,
                hint="Pass leaf hashes (leaf_hash(data)), not the leaf data.",
            )


def _parent_level(joined: bytes) -> list[bytes]:
    """The parents of a level given as its nodes joined: neighbours hashed pairwise,
    an unpaired last node moved up unchanged (RFC 6962 §2.1)."""
    sha256, prefix = hashlib.sha256, _NODE_PREFIX
    paired = len(joined) // _PAIR * _PAIR
    parents = [sha256(prefix + joined[i : i + _PAIR]).digest() for i in range(0, paired, _PAIR)]
    if paired != len(joined):
        parents.append(joined[paired:])
    return parents


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 6962 §2.1 Merkle Tree Hash of already leaf-hashed entries, level by level."""
    _check_leaf_hashes(leaf_hashes)
    return root_of(b"".join(leaf_hashes))


def _trailing_zeros(value: int) -> int:
    return (value & -value).bit_length() - 1


class MerkleTree:
    """An RFC 6962 tree over leaf hashes, built once; every level is kept for O(log n) proofs.

    ``levels[0]`` are the leaf hashes; the last entry of a level with a partial
    right edge holds the root of that partial subtree, exactly the node RFC
    6962's PATH and SUBPROOF hand out for it.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes]) -> None:
        leaves = list(leaf_hashes)
        _check_leaf_hashes(leaves)
        levels = [leaves]
        while len(levels[-1]) > 1:
            levels.append(_parent_level(b"".join(levels[-1])))
        self._levels = levels

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes | None:
        """The leaf hash at ``index``, None outside the tree."""
        leaves = self._levels[0]
        return leaves[index] if 0 <= index < len(leaves) else None

    @property
    def root(self) -> bytes:
        """The Merkle Tree Hash; :data:`EMPTY_ROOT` for no leaves."""
        top = self._levels[-1]
        return top[0] if top else EMPTY_ROOT

    @property
    def levels(self) -> Sequence[Sequence[bytes]]:
        """Every level's hashes, leaves first, the root last (read-only by convention)."""
        return self._levels

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 6962 §2.1.1 PATH(index, D[size]): sibling hashes from the leaf up."""
        if not 0 <= index < self.size:
            raise InclusionProofError(
                f"no leaf at index {index} in a tree of {self.size} leaves",
                leaf_index=index,
                tree_size=self.size,
            )
        return self._path(index, level=0)

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """RFC 6962 §2.1.2 PROOF(old_size, D[size]) (RFC 9162 §2.1.4.1); empty for equal sizes.

        The proof is the old tree's last complete subtree (left out when the old
        tree is itself complete, i.e. ``old_size`` is a power of two) followed
        by that subtree's path up to the new root.
        """
        if not 0 < old_size <= self.size:
            raise ConsistencyProofError(
                f"cannot prove size {old_size} consistent with size {self.size}: "
                f"the old size must be 1..{self.size}",
                old_size=old_size,
                new_size=self.size,
            )
        if old_size == self.size:
            return []
        level = _trailing_zeros(old_size)
        index = (old_size >> level) - 1
        seed = [self._levels[level][index]] if index else []
        return seed + self._path(index, level)

    def _path(self, index: int, level: int) -> list[bytes]:
        path: list[bytes] = []
        for nodes in self._levels[level:-1]:
            sibling = index ^ 1
            if sibling < len(nodes):  # no sibling: the node was promoted unchanged
                path.append(nodes[sibling])
            index >>= 1
        return path


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) for a one-off proof; build a :class:`MerkleTree` for many."""
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) for a one-off proof; build a :class:`MerkleTree` for many."""
    return MerkleTree(leaf_hashes).consistency_proof(old_size)


def _bad_hash(named: Iterable[tuple[str, bytes]]) -> str | None:
    for name, value in named:
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            return f"{name} is not a {HASH_SIZE}-byte SHA-256 hash"
    return None


def _inclusion_path_length(index: int, tree_size: int) -> int:
    """Path length RFC 9162 §2.1.3.2 accepts: one hash per shift until ``sn`` reaches 0.

    While ``fn != sn`` each hash shifts once (``inner`` times in all); after that
    each hash consumes one set bit of what is left of ``fn``.
    """
    last = tree_size - 1
    inner = (index ^ last).bit_length()
    return inner + (index >> inner).bit_count()


def _check_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes]) -> None:
    def fail(reason: str) -> InclusionProofError:
        return InclusionProofError(reason, leaf_index=index, tree_size=tree_size)

    if not 0 < tree_size <= MAX_TREE_SIZE:
        raise fail(f"tree size {tree_size} is outside 1..{MAX_TREE_SIZE}")
    if not 0 <= index < tree_size:
        raise fail(f"leaf index {index} is outside a tree of {tree_size} leaves")
    if len(proof) > MAX_INCLUSION_PROOF_LENGTH:
        raise fail(f"proof has {len(proof)} hashes, more than {MAX_INCLUSION_PROOF_LENGTH}")
    expected = _inclusion_path_length(index, tree_size)
    if len(proof) != expected:
        raise fail(
            f"proof has {len(proof)} hashes; leaf {index} of a tree of {tree_size} needs {expected}"
        )
    problem = _bad_hash([("leaf hash", leaf), *((f"proof[{i}]", h) for i, h in enumerate(proof))])
    if problem:
        raise fail(problem)


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """The root an inclusion proof leads to: RFC 9162 §2.1.3.2 steps 1-4.

    Steps 4a and 5 (``sn`` must not reach 0 early and must be 0 at the end)
    hold exactly when the path has :func:`_inclusion_path_length` hashes, which
    is checked first, with a clearer message. Raises :class:`InclusionProofError`.
    """
    _check_inclusion(leaf_hash, index, tree_size, proof)
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # Step 4b.ii. Once fn == sn they stay equal, so this only keeps fn
            # and sn in step with the RFC; it never changes which way r goes.
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` with ``root``.

    RFC 9162 §2.1.3.2. Returns nothing; raises :class:`InclusionProofError` for a
    malformed proof and :class:`RootMismatchError` when it leads elsewhere.
    """
    if _bad_hash([("root", root)]):
        raise InclusionProofError(
            f"root is not a {HASH_SIZE}-byte SHA-256 hash", leaf_index=index, tree_size=tree_size
        )
    calculated = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)
    if calculated != root:
        raise RootMismatchError(expected_root=root, calculated_root=calculated)


def _consistency_path_length(old_size: int, new_size: int) -> int:
    """Path length RFC 9162 §2.1.4.2 accepts for ``0 < old_size < new_size``.

    Step 4 drops the trailing zeros of ``old_size``; the old tree's last complete
    subtree is then one hash unless ``old_size`` is a power of two (step 2 uses
    the old root instead), and the rest counts as in an inclusion path.
    """
    shift = _trailing_zeros(old_size)
    fn, sn = (old_size - 1) >> shift, (new_size - 1) >> shift
    inner = (fn ^ sn).bit_length()
    return (1 if fn else 0) + inner + (fn >> inner).bit_count()


def _check_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    def fail(reason: str) -> ConsistencyProofError:
        return ConsistencyProofError(reason, old_size=old_size, new_size=new_size)

    if not 0 < old_size <= new_size <= MAX_TREE_SIZE:
        raise fail(f"sizes {old_size} -> {new_size} are not 1 <= old <= new <= {MAX_TREE_SIZE}")
    if len(proof) > MAX_CONSISTENCY_PROOF_LENGTH:
        raise fail(f"proof has {len(proof)} hashes, more than {MAX_CONSISTENCY_PROOF_LENGTH}")
    expected = 0 if old_size == new_size else _consistency_path_length(old_size, new_size)
    if len(proof) != expected:
        raise fail(f"proof has {len(proof)} hashes; sizes {old_size} -> {new_size} need {expected}")
    named = [("old root", old_root), ("new root", new_root)]
    problem = _bad_hash([*named, *((f"proof[{i}]", h) for i, h in enumerate(proof))])
    if problem:
        raise fail(problem)


def _roots_from_consistency_proof(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2 steps 2-6 for ``0 < old_size < new_size``: ``(fr, sr)``.

    Step 1 (empty path) and the ``sn`` checks of steps 6a and 7 hold exactly when
    the path has :func:`_consistency_path_length` hashes, checked beforehand.
    """
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr, sr


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends the one of ``old_size``.

    RFC 9162 §2.1.4.2. Equal sizes need an empty proof and equal roots. Returns
    nothing; raises :class:`ConsistencyProofError` for a malformed proof and
    :class:`RootMismatchError` (for the old root first, then the new one) when
    the proof leads elsewhere.
    """
    _check_consistency(old_size, new_size, old_root, new_root, proof)
    if old_size == new_size:
        calculated_old, calculated_new = new_root, old_root
    else:
        calculated_old, calculated_new = _roots_from_consistency_proof(
            old_size, new_size, old_root, proof
        )
    hint = "The two tree heads are not consistent, or the proof is not for them."
    if calculated_old != old_root:
        raise RootMismatchError(expected_root=old_root, calculated_root=calculated_old, hint=hint)
    if calculated_new != new_root:
        raise RootMismatchError(expected_root=new_root, calculated_root=calculated_new, hint=hint)
