"""The one writer of proof-bundle JSON text (``credit-anchor/proof-bundle/v1``).

Two forms, each byte for byte what it has always been:

- compact (:func:`bundle_bytes`, :class:`BatchBundles`): ``orjson.dumps`` of
  :meth:`ProofBundle.to_json`, the form the API answers with;
- text (:func:`bundle_text`): ``json.dumps`` with raw UTF-8, indented for a file
  (``ledger bundle``) or on one line (an audit export's JSON Lines).

A verify of 10,000 records answers 10,000 bundles of one or a few batches, so
:class:`BatchBundles` writes the compact form straight from the batch's tree:
what every bundle of the batch shares is written once, each level of the tree
is hex-encoded once, and a bundle is a join of slices of those. It builds no
:class:`ProofBundle` per leaf; the paths come from the very tree whose root is
anchored, so they verify by construction (``tests/proofs`` holds the two forms
equal and the bundles verifying).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

import orjson

from ledger.proofs.bundle import BUNDLE_FORMAT, HASH_ALG, AnchorAttestation, ProofBundle
from ledger.proofs.errors import InclusionProofError
from ledger.proofs.merkle import HASH_SIZE, MerkleTree

#: What every bundle starts with: ``{"format":...,"hash_alg":...,``.
_HEAD: Final = orjson.dumps({"format": BUNDLE_FORMAT, "hash_alg": HASH_ALG})[:-1] + b","
_HEX: Final = 2 * HASH_SIZE  # hex digits of one hash


def bundle_text(bundle: ProofBundle, *, indent: int | None = 2) -> str:
    """The bundle as JSON text with raw UTF-8: indented for a file, or one line (None)."""
    return json.dumps(bundle.to_json(), ensure_ascii=False, indent=indent)


def bundle_bytes(bundle: ProofBundle) -> bytes:
    """The bundle in compact form (what the API answers with): ``orjson.dumps(to_json())``."""
    record = None if bundle.record is None else orjson.dumps(bundle.record)
    path = b",".join(b'"0x%s"' % node.hex().encode() for node in bundle.audit_path)
    return b"".join(
        (
            _HEAD,
            _record_member(record),
            _proof_members(bundle.leaf_hash.hex().encode(), bundle.leaf_index, bundle.tree_size),
            path,
            _tail(bundle.root, bundle.batch_id, bundle.anchor),
        )
    )


def _record_member(record: bytes | None) -> bytes:
    return b"" if record is None else b'"record":' + record + b","


def _proof_members(leaf_hex: bytes, index: int, size: int) -> bytes:
    """``"leaf_hash":...,"leaf_index":...,"tree_size":...,"audit_path":[`` (path to follow)."""
    return b'"leaf_hash":"0x%s","leaf_index":%d,"tree_size":%d,"audit_path":[' % (
        leaf_hex,
        index,
        size,
    )


def _tail(root: bytes, batch_id: bytes, anchor: AnchorAttestation) -> bytes:
    """``],"root":...,"batch_id":...,"anchor":{...}}``: the audit path's end and what follows."""
    shared = {"root": "0x" + root.hex(), "batch_id": "0x" + batch_id.hex()}
    return b"]," + orjson.dumps(shared | {"anchor": anchor.to_json()})[1:]


class BatchBundles:
    """The compact bundles of leaves of one anchored batch, written from its tree."""

    __slots__ = ("_hex", "_tail", "size")

    def __init__(self, tree: MerkleTree, batch_id: bytes, anchor: AnchorAttestation) -> None:
        self.size = tree.size
        # Each level as one hex string: a node is a 64-digit slice, no object per node.
        self._hex = [b"".join(level).hex().encode() for level in tree.levels]
        self._tail = _tail(tree.root, batch_id, anchor)

    def write(self, indexes: Sequence[int], records: Sequence[bytes | None]) -> list[bytes]:
        """``bundle_bytes`` of the bundle of each leaf in ``indexes``, with its record's
        JCS bytes from ``records`` (one per index; None: no record shown)."""
        if len(records) != len(indexes):
            raise ValueError("one record (or None) per index")
        for index in indexes:
            if not 0 <= index < self.size:
                raise InclusionProofError(
                    f"no leaf at index {index} in a tree of {self.size} leaves",
                    leaf_index=index,
                    tree_size=self.size,
                )
        leaves, tail, size = self._hex[0], self._tail, self.size
        return [
            b"".join(
                (
                    _HEAD,
                    _record_member(record),
                    _proof_members(leaves[index * _HEX : (index + 1) * _HEX], index, size),
                    path,
                    tail,
                )
            )
            for index, record, path in zip(indexes, records, self._paths(indexes), strict=True)
        ]

    def _paths(self, indexes: Sequence[int]) -> list[bytes]:
        """Each leaf's audit path as the JSON array's inside: ``"0x..","0x.."``.

        A node's path is its sibling (node ``n ^ 1``, absent where the node was
        promoted) followed by its parent's path, so the paths are written top-down,
        level by level, and the upper part every leaf under a node shares is written
        once for them all, not once per leaf.
        """
        levels = self._hex[:-1]  # the root has no path
        if not levels:
            return [b""] * len(indexes)
        nodes = [set(indexes)]  # at each level, the nodes the wanted leaves pass through
        for _ in levels[1:]:
            nodes.append({n >> 1 for n in nodes[-1]})
        paths: dict[int, bytes] = {0: b""}  # the root's
        for level, wanted in zip(reversed(levels), reversed(nodes), strict=True):
            count, above, paths = len(level) // _HEX, paths, {}
            for n in wanted:
                up, s = above[n >> 1], n ^ 1
                if s >= count:  # promoted: nothing to add at this level
                    paths[n] = up
                    continue
                node = b'"0x' + level[s * _HEX : (s + 1) * _HEX] + b'"'
                paths[n] = node + b"," + up if up else node
        return [paths[i] for i in indexes]
