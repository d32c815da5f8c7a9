"""Proof bundles out of the store: find a leaf, rebuild its batch's tree, attest."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.anchoring.outbox import unhex
from ledger.errors import ConfigurationError, ConflictError, ErasedError, NotFoundError
from ledger.proofs import (
    AnchorAttestation,
    BatchBundles,
    MerkleTree,
    ProofBundle,
    make_bundle,
)
from ledger.store import Batch, LeafRef, Store, StoredLeaf, leaves

_LEAF_HASH = re.compile(r"0x[0-9a-f]{64}")
#: Trees kept in memory. An anchored batch never changes, so its tree can be reused;
#: a 10,000-leaf tree takes about 1.3 MB, and its hex for the bundles as much again.
MAX_CACHED_TREES = 32
#: ... and at most this many leaves in all (about 100 MB), whatever the batch size.
MAX_CACHED_LEAVES = 400_000


@dataclass(frozen=True, slots=True)
class AnchoredBatch:
    """An anchored batch's tree and what all its bundles share (it never changes)."""

    tree: MerkleTree
    batch_id: bytes
    anchor: AnchorAttestation
    #: Writes the batch's bundles in compact form, straight from the tree.
    writer: BatchBundles

    @classmethod
    def of(cls, batch: Batch, tree: MerkleTree) -> AnchoredBatch:
        anchor, batch_id = attestation(batch), unhex(batch.batch_id)
        return cls(tree, batch_id, anchor, BatchBundles(tree, batch_id, anchor))

    def bundle(
        self, record: Mapping[str, object] | None, index: int, leaf_hash: bytes
    ) -> ProofBundle:
        """The checked :class:`ProofBundle` of leaf ``index``."""
        return make_bundle(
            record, index, self.tree, self.batch_id, self.anchor, leaf_hash=leaf_hash
        )


def is_anchored(batch: Batch) -> bool:
    return batch.status == "anchored" and batch.tx_hash is not None


class TreeCache:
    """Anchored batches with their Merkle trees, least recently used dropped first.

    Rebuilding a 10,000-leaf tree (one query plus 10,000 hashes) costs ~20 ms, which
    would otherwise be paid by every single-record proof or verify request.
    """

    def __init__(self, size: int = MAX_CACHED_TREES) -> None:
        self.size = size
        self._batches: OrderedDict[str, AnchoredBatch] = OrderedDict()
        self._leaves = 0
        self._lock = threading.Lock()

    def cached(self, batch_id: str) -> AnchoredBatch | None:
        """The batch if it is cached (then it is anchored): no store access."""
        with self._lock:
            found = self._batches.get(batch_id)
            if found is not None:
                self._batches.move_to_end(batch_id)
            return found

    def anchored(self, store: Store, batch_id: str) -> AnchoredBatch | None:
        """The anchored batch ``batch_id``; None while it is pending (never cached)."""
        found = self.cached(batch_id)
        if found is not None:
            return found
        with store.session() as s:
            batch = s.get_one(Batch, batch_id)
        if not is_anchored(batch):
            return None
        found = AnchoredBatch.of(batch, _build_tree(store, batch_id))
        with self._lock:
            replaced = self._batches.pop(batch_id, None)  # another thread built it too
            if replaced is not None:
                self._leaves -= replaced.tree.size
            self._batches[batch_id] = found
            self._leaves += found.tree.size
            while len(self._batches) > 1 and (
                len(self._batches) > self.size or self._leaves > MAX_CACHED_LEAVES
            ):
                self._leaves -= self._batches.popitem(last=False)[1].tree.size
        return found


def _build_tree(store: Store, batch_id: str) -> MerkleTree:
    with store.session() as s:
        return MerkleTree(leaves.batch_hashes(s, batch_id))


#: One cache per process: batches are immutable once anchored, whoever asks.
TREES = TreeCache()


def find_leaf(store: Store, key: str) -> StoredLeaf:
    """A leaf by its hash (``0x`` + 64 hex) or, failing that, by record id."""
    with store.session() as s:
        refs: list[LeafRef] = []
        if _LEAF_HASH.fullmatch(key.lower()):
            refs = next(iter(leaves.find_by_hash(s, [unhex(key.lower())]).values()), [])
        if not refs:
            refs = leaves.find_by_record_id(s, [key]).get(key, [])
        leaf = leaves.leaf_at(s, refs[0].batch_id, refs[0].leaf_index) if refs else None
    if leaf is None:
        # The key is not echoed: a mistyped argument may be an ID number or a phone.
        raise NotFoundError(
            "no record or leaf with that id or hash in the store",
            hint="pass a record id (report_id) or a leaf hash (0x + 64 hex)",
        )
    return leaf


def bundle_for(store: Store, key: str, *, with_record: bool = True) -> ProofBundle:
    """The proof bundle of one stored leaf; its batch must be anchored."""
    leaf = find_leaf(store, key)
    batch = TREES.anchored(store, leaf.batch_id)
    if batch is None:
        with store.session() as s:
            confirming = s.get_one(Batch, leaf.batch_id).status == "confirming"
        raise ConflictError(
            f"batch {leaf.batch_id} is not anchored yet"
            + (": its anchor awaits the chain's confirmations" if confirming else ""),
            hint="run `ledger submit` again to resume its anchor",
        )
    if with_record and leaf.canonical is None:
        raise erased(leaf)
    record = json.loads(leaf.canonical) if with_record and leaf.canonical else None
    return batch.bundle(record, leaf.leaf_index, leaf.leaf_hash)


def erased(leaf: StoredLeaf) -> ErasedError:
    """The error for a leaf whose record (and salt) were erased."""
    return ErasedError(
        f"the record of this leaf was erased at the borrower's request; its hash stays "
        f"in batch {leaf.batch_id}, linked to no one",
    )


def attestation(batch: Batch) -> AnchorAttestation:
    """The anchor of an anchored batch, as its proof bundles state it."""
    if not (batch.chain_id and batch.registry_address and batch.tx_hash and batch.block_timestamp):
        raise ConfigurationError(
            f"the store does not hold the whole anchor of batch {batch.batch_id} "
            "(chain, registry, transaction and block time)",
            hint="a store rebuilt by `ledger audit --rebuild` before block times were "
            "read from the chain has none: rebuild it again, or bundle from the platform's store",
        )
    return AnchorAttestation(
        chain_id=batch.chain_id,
        registry=unhex(batch.registry_address),
        tx_hash=unhex(batch.tx_hash),
        block_number=int(batch.block_number or 0),
        block_timestamp=datetime.fromisoformat(batch.block_timestamp.replace("Z", "+00:00")),
    )


def batch_view(store: Store, batch_id: str) -> dict[str, Any]:
    """A stored batch as JSON data: manifest, status, and its anchor once anchored."""
    with store.session() as s:
        batch = s.get(Batch, batch_id)
    if batch is None:
        raise NotFoundError(f"no batch {batch_id}")
    anchor = None
    if is_anchored(batch):
        anchor = {**attestation(batch).to_json(), "seq": batch.seq}
    return {
        "batch_id": batch.batch_id,
        "kind": batch.kind,
        "status": batch.status,
        "tree_size": batch.tree_size,
        "root": batch.root,
        "manifest_hash": batch.manifest_hash,
        "manifest": json.loads(batch.manifest),
        "created_at": batch.created_at,
        "anchor": anchor,
    }
