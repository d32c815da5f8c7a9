"""Proof bundles out of the store: find a leaf, rebuild its batch's tree, attest."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from datetime import datetime

from sqlalchemy import select

from ledger.anchoring.outbox import unhex
from ledger.errors import ConflictError, ErasedError, NotFoundError
from ledger.proofs import AnchorAttestation, MerkleTree, ProofBundle, make_bundle
from ledger.store import Batch, Leaf, Store

_LEAF_HASH = re.compile(r"0x[0-9a-f]{64}")
#: Trees kept in memory. An anchored batch never changes, so its tree can be reused;
#: a 10,000-leaf tree takes about 1.3 MB, so this bounds the cache near 40 MB.
MAX_CACHED_TREES = 32


class TreeCache:
    """The Merkle trees of anchored batches, least recently used dropped first.

    Rebuilding a 10,000-leaf tree (one query plus 10,000 hashes) costs ~20 ms, which
    would otherwise be paid by every single-record proof or verify request.
    """

    def __init__(self, size: int = MAX_CACHED_TREES) -> None:
        self.size = size
        self._trees: OrderedDict[str, MerkleTree] = OrderedDict()
        self._lock = threading.Lock()

    def tree(self, store: Store, batch_id: str) -> MerkleTree:
        """The tree of an anchored batch (pending batches are never cached)."""
        with self._lock:
            cached = self._trees.get(batch_id)
            if cached is not None:
                self._trees.move_to_end(batch_id)
                return cached
        tree = _build_tree(store, batch_id)
        with self._lock:
            self._trees[batch_id] = tree
            while len(self._trees) > self.size:
                self._trees.popitem(last=False)
        return tree


def _build_tree(store: Store, batch_id: str) -> MerkleTree:
    with store.session() as s:
        hashes = s.scalars(
            select(Leaf.leaf_hash).where(Leaf.batch_id == batch_id).order_by(Leaf.leaf_index)
        )
        return MerkleTree(list(hashes))


#: One cache per process: batches are immutable once anchored, whoever asks.
TREES = TreeCache()


def find_leaf(store: Store, key: str) -> Leaf:
    """A leaf by its hash (``0x`` + 64 hex) or, failing that, by record id."""
    with store.session() as s:
        leaf = None
        if _LEAF_HASH.fullmatch(key.lower()):
            leaf = s.scalar(select(Leaf).where(Leaf.leaf_hash == unhex(key.lower())))
        if leaf is None:
            leaf = s.scalar(select(Leaf).where(Leaf.record_id == key))
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
    with store.session() as s:
        batch = s.get_one(Batch, leaf.batch_id)
    if batch.status != "anchored" or batch.tx_hash is None:
        raise ConflictError(
            f"batch {batch.batch_id} is not anchored yet",
            hint="run `ledger submit` again to resume its anchor",
        )
    if with_record and leaf.canonical is None:
        raise erased(leaf)
    tree = TREES.tree(store, batch.batch_id)
    record = json.loads(leaf.canonical) if with_record and leaf.canonical else None
    return make_bundle(
        record,
        leaf.leaf_index,
        tree,
        unhex(batch.batch_id),
        attestation(batch),
        leaf_hash=leaf.leaf_hash,
    )


def erased(leaf: Leaf) -> ErasedError:
    """The error for a leaf whose record (and salt) were erased."""
    return ErasedError(
        f"the record of this leaf was erased at the borrower's request; its hash stays "
        f"in batch {leaf.batch_id}, linked to no one",
    )


def attestation(batch: Batch) -> AnchorAttestation:
    assert batch.chain_id and batch.registry_address and batch.tx_hash and batch.block_timestamp
    return AnchorAttestation(
        chain_id=batch.chain_id,
        registry=unhex(batch.registry_address),
        tx_hash=unhex(batch.tx_hash),
        block_number=int(batch.block_number or 0),
        block_timestamp=datetime.fromisoformat(batch.block_timestamp.replace("Z", "+00:00")),
    )
