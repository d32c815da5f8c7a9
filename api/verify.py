"""Answering ``POST /v1/verify``: many records or leaf hashes against the store, at once.

Leaves and their batches' status come in one query per chunk; anchored batches
and their trees come from the process-wide cache. A mismatch (record id known,
leaf hash not) names only the stored batch: stored content is never echoed.
Results are plain JSON data, built once (see :mod:`api.responses`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import select

from api.models import OutcomeName
from api.rawsql import Connections, KeyedSelect
from ledger.anchoring.bundles import TREES, AnchoredBatch, attestation
from ledger.errors import InputError
from ledger.proofs import CanonicalFormError
from ledger.proofs import record_leaf_hash as leaf_hash_of
from ledger.store import Batch, Leaf, Store

_LEAVES: Final = KeyedSelect(
    lambda keys: (
        select(
            Leaf.leaf_hash,
            Leaf.batch_id,
            Leaf.leaf_index,
            Batch.status,
            Batch.tx_hash,
            Leaf.canonical.is_(None),
        )
        .join(Batch, Batch.batch_id == Leaf.batch_id)
        .where(Leaf.leaf_hash.in_(keys))
    )
)
_RECORD_BATCHES: Final = KeyedSelect(
    lambda keys: select(Leaf.record_id, Leaf.batch_id).where(Leaf.record_id.in_(keys))
)
Item = dict[str, Any]


def record_hashes(records: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """Leaf hashes of submitted records, canonicalised exactly as at submission."""
    hashes = []
    for index, record in enumerate(records):
        try:
            hashes.append(leaf_hash_of(record))
        except CanonicalFormError as exc:
            raise InputError(f"records[{index}] has no canonical form: {exc.message}") from None
    return hashes


def _leaves(db: Connections, hashes: Sequence[bytes]) -> dict[bytes, tuple[str, int, bool, bool]]:
    """Leaf hash -> (batch id, leaf index, batch anchored?, record erased?), for stored ones."""
    rows = _LEAVES.rows(db, list(dict.fromkeys(hashes)))
    return {
        bytes(h): (b, n, status == "anchored" and tx is not None, bool(gone))
        for h, b, n, status, tx, gone in rows
    }


def _record_batches(db: Connections, record_ids: Sequence[str]) -> dict[str, str]:
    rows = _RECORD_BATCHES.rows(db, list(dict.fromkeys(record_ids)))
    return {record_id: batch_id for record_id, batch_id in rows if record_id is not None}


def _mismatched(
    db: Connections,
    hashes: Sequence[bytes],
    records: Sequence[Mapping[str, Any]],
    leaves: Mapping[bytes, object],
) -> dict[int, str]:
    """Item index -> batch holding a stored record with its record id (content differs)."""
    ids = {
        i: str(r.get("record_id"))
        for i, r in enumerate(records)
        if hashes[i] not in leaves and r.get("record_id") is not None
    }
    by_record = _record_batches(db, list(ids.values())) if ids else {}
    return {i: by_record[rid] for i, rid in ids.items() if rid in by_record}


def verify(
    store: Store,
    db: Connections,
    hashes: Sequence[bytes],
    records: Sequence[Mapping[str, Any]] | None = None,
) -> list[Item]:
    """One result item per hash (as ``VerifyItem`` documents it, ``None`` members left out);
    ``records`` (same order) enable ``mismatch`` and go in the bundles."""
    leaves = _leaves(db, hashes)
    mismatched = _mismatched(db, hashes, records, leaves) if records is not None else {}
    batches: dict[str, AnchoredBatch | None] = {}
    results: list[Item] = []
    for i, digest in enumerate(hashes):
        found = leaves.get(digest)
        if found is None:
            batch_id = mismatched.get(i)
            status: OutcomeName = "unknown" if batch_id is None else "mismatch"
            results.append(_item(i, status, digest, batch_id))
            continue
        batch_id, index, anchored, erased = found
        if erased:  # PIPL Art. 47: the hash stays in its tree, linked to no one
            results.append(_item(i, "erased", digest, batch_id))
            continue
        if batch_id not in batches:
            batches[batch_id] = TREES.anchored(store, batch_id) if anchored else None
        batch = batches[batch_id]
        if batch is None:
            results.append(_item(i, "pending", digest, batch_id))
            continue
        item = _item(i, "anchored", digest, batch_id)
        item["bundle"] = batch.bundle_json(index, digest, None if records is None else records[i])
        results.append(item)
    return results


def _item(index: int, status: OutcomeName, digest: bytes, batch_id: str | None) -> Item:
    item: Item = {"index": index, "status": status, "leaf_hash": "0x" + digest.hex()}
    if batch_id is not None:
        item["batch_id"] = batch_id
    return item


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


__all__ = ["batch_json", "record_hashes", "verify"]
