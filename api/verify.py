"""Answering ``POST /v1/verify``: many records or leaf hashes against the store, at once.

Leaves are looked up in chunks, each batch's tree is built once per request,
and a mismatch (record id known, leaf hash not) names only the stored batch:
stored content is never echoed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select

from api.models import OutcomeName
from ledger.anchoring.bundles import TREES, attestation
from ledger.anchoring.outbox import unhex
from ledger.errors import InputError
from ledger.proofs import (
    AnchorAttestation,
    CanonicalFormError,
    MerkleTree,
    ProofBundle,
    make_bundle,
)
from ledger.proofs import record_leaf_hash as leaf_hash_of
from ledger.store import Batch, Leaf, Store

#: SQLite's bound-parameter limit is 32766; chunks keep each IN (...) small.
_CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class Outcome:
    status: OutcomeName
    leaf_hash: bytes
    batch_id: str | None = None
    bundle: ProofBundle | None = None
    record: Mapping[str, Any] | None = None

    def bundle_json(self) -> dict[str, Any] | None:
        """The bundle as DESIGN.md fixes it, with the caller's record when one was sent."""
        if self.bundle is None:
            return None
        data = self.bundle.to_json()
        if self.record is None:
            return data
        head = {"format": data.pop("format"), "hash_alg": data.pop("hash_alg")}
        return {**head, "record": self.record, **data}


def record_hashes(records: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """Leaf hashes of submitted records, canonicalised exactly as at submission."""
    hashes = []
    for index, record in enumerate(records):
        try:
            hashes.append(leaf_hash_of(record))
        except CanonicalFormError as exc:
            raise InputError(f"records[{index}] has no canonical form: {exc.message}") from None
    return hashes


def _leaves(store: Store, hashes: Sequence[bytes]) -> dict[bytes, tuple[str, int]]:
    found: dict[bytes, tuple[str, int]] = {}
    unique = list(dict.fromkeys(hashes))
    with store.session() as s:
        for i in range(0, len(unique), _CHUNK):
            rows = s.execute(
                select(Leaf.leaf_hash, Leaf.batch_id, Leaf.leaf_index).where(
                    Leaf.leaf_hash.in_(unique[i : i + _CHUNK])
                )
            )
            found.update((h, (b, n)) for h, b, n in rows)
    return found


def _record_batches(store: Store, record_ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(record_ids))
    with store.session() as s:
        for i in range(0, len(unique), _CHUNK):
            rows = s.execute(
                select(Leaf.record_id, Leaf.batch_id).where(
                    Leaf.record_id.in_(unique[i : i + _CHUNK])
                )
            )
            found.update((r, b) for r, b in rows if r is not None)
    return found


class _Trees:
    """Batches and their trees, each loaded at most once per request."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batches: dict[str, Batch] = {}
        self.trees: dict[str, MerkleTree] = {}
        self.anchors: dict[str, AnchorAttestation] = {}

    def batch(self, batch_id: str) -> Batch:
        if batch_id not in self.batches:
            with self.store.session() as s:
                self.batches[batch_id] = s.get_one(Batch, batch_id)
        return self.batches[batch_id]

    def anchor(self, batch: Batch) -> AnchorAttestation:
        if batch.batch_id not in self.anchors:
            self.anchors[batch.batch_id] = attestation(batch)
        return self.anchors[batch.batch_id]

    def tree(self, batch_id: str) -> MerkleTree:
        if batch_id not in self.trees:
            # Only asked for anchored batches: immutable, so the process-wide cache holds.
            self.trees[batch_id] = TREES.tree(self.store, batch_id)
        return self.trees[batch_id]


def verify(
    store: Store,
    hashes: Sequence[bytes],
    records: Sequence[Mapping[str, Any]] | None = None,
) -> list[Outcome]:
    """One outcome per hash; ``records`` (same order) enable ``mismatch`` and go in bundles."""
    leaves = _leaves(store, hashes)
    ids: dict[int, str] = {}
    if records is not None:
        ids = {
            i: str(r.get("record_id"))
            for i, r in enumerate(records)
            if hashes[i] not in leaves and r.get("record_id") is not None
        }
    by_record = _record_batches(store, list(ids.values())) if ids else {}
    trees = _Trees(store)
    outcomes = []
    for i, digest in enumerate(hashes):
        if digest in leaves:
            record = None if records is None else records[i]
            outcomes.append(_found(trees, digest, *leaves[digest], record))
        elif ids.get(i) in by_record:
            outcomes.append(Outcome("mismatch", digest, by_record[ids[i]]))
        else:
            outcomes.append(Outcome("unknown", digest))
    return outcomes


def _found(
    trees: _Trees, digest: bytes, batch_id: str, index: int, record: Mapping[str, Any] | None
) -> Outcome:
    batch = trees.batch(batch_id)
    if batch.status != "anchored" or batch.tx_hash is None:
        return Outcome("pending", digest, batch_id)
    # Built without the record: ``digest`` was computed from it, so the bundle
    # need not canonicalise and copy it again; it goes back in at to_json time.
    bundle = make_bundle(
        None, index, trees.tree(batch_id), unhex(batch_id), trees.anchor(batch), leaf_hash=digest
    )
    return Outcome("anchored", digest, batch_id, bundle, record)


def batch_json(batch: Batch) -> dict[str, Any]:
    """A stored batch as ``GET /v1/batches/{batch_id}`` shows it."""
    anchor = None
    if batch.status == "anchored" and batch.tx_hash is not None:
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


__all__ = ["Outcome", "batch_json", "record_hashes", "verify"]
