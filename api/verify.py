"""Answering ``POST /v1/verify``: many records or leaf hashes against the store, at once.

Leaves come by the 64-bit keys of their hashes in one query per chunk, their
batches' status in one more (none for batches already known to be anchored);
anchored batches and their trees come from the process-wide cache. A mismatch (record id known,
leaf hash not) names only the stored batch: stored content is never echoed.
Results are plain JSON data with each bundle written as JSON already, serialised once
(see :mod:`api.responses`).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final, overload

import orjson
from sqlalchemy import select

from api.models import OutcomeName
from api.rawsql import Connections, KeyedSelect
from ledger.anchoring.bundles import TREES, AnchoredBatch, attestation
from ledger.errors import InputError
from ledger.proofs import CanonicalFormError, record_canonical
from ledger.store import Batch, Store, leaves
from ledger.store.leaves import LeafKey

#: Candidate leaves by the 64-bit key of their hash (the primary key: no table lookups).
_LEAF_KEYS: Final = KeyedSelect(
    lambda keys: select(LeafKey.key, LeafKey.batch_key, LeafKey.leaf_index, LeafKey.erased).where(
        LeafKey.key.in_(keys)
    )
)
#: Their batches (a 10000-record request names one or a few), with their status.
_BATCHES: Final = KeyedSelect(
    lambda keys: select(Batch.batch_key, Batch.batch_id, Batch.status, Batch.tx_hash).where(
        Batch.batch_key.in_(keys)
    )
)
Item = dict[str, Any]


def record_texts(records: Sequence[Mapping[str, Any]], *, plain: bool = False) -> list[bytes]:
    """JCS bytes of submitted records, canonicalised exactly as at submission.

    ``plain``: the records come from a plain body (``api.jsonbody.is_plain``).
    """
    texts = []
    for index, record in enumerate(records):
        try:
            texts.append(record_canonical(record, plain=plain))
        except CanonicalFormError as exc:
            raise InputError(f"records[{index}] has no canonical form: {exc.message}") from None
    return texts


#: Where a stored leaf is: batch id, leaf index, the batch if it is anchored (None while
#: pending), and whether its record was erased.
Found = tuple[str, int, AnchoredBatch | None, bool]


def _leaves(store: Store, db: Connections, hashes: Sequence[bytes]) -> dict[bytes, Found]:
    """Leaf hash -> where it is stored, for the stored ones.

    Keys are 64-bit prefixes: each candidate is confirmed against the full hash,
    from the cached tree of an anchored batch, or from the store for a pending one.
    """
    unique = list(dict.fromkeys(hashes))
    wanted: dict[int, list[bytes]] = {}
    for key, digest in zip(leaves.leaf_keys(b"".join(unique)), unique, strict=True):
        wanted.setdefault(key, []).append(digest)
    rows = _LEAF_KEYS.rows(db, list(wanted))
    batches = _batches(store, db, {r[1] for r in rows})
    found: dict[bytes, Found] = {}
    pending: list[tuple[list[bytes], str, int, bool]] = []
    trees: dict[str, AnchoredBatch | None] = {}
    for key, batch_key, index, erased in rows:
        batch_id, anchored = batches[batch_key]
        if anchored:
            if batch_id not in trees:
                trees[batch_id] = TREES.anchored(store, batch_id)
            batch = trees[batch_id]
            stored = None if batch is None else batch.tree.leaf(index)
            if stored is not None and stored in wanted[key]:
                found[stored] = (batch_id, index, batch, bool(erased))
        else:
            pending.append((wanted[key], batch_id, index, bool(erased)))
    if pending:
        with store.session() as s:
            for digests, batch_id, index, erased in pending:
                for digest, refs in leaves.find_by_hash(s, digests).items():
                    if any(r.batch_id == batch_id and r.leaf_index == index for r in refs):
                        found.setdefault(digest, (batch_id, index, None, erased))
    return found


#: Per store, anchored batches' ids by batch key: an anchored batch never changes, so a
#: single-record verify needs one query (its leaf key), not two.
_ANCHORED: weakref.WeakKeyDictionary[Store, dict[int, str]] = weakref.WeakKeyDictionary()
#: Entries kept per store (~100 bytes each); past it the map starts again.
MAX_ANCHORED = 100_000


def _batches(
    store: Store, db: Connections, batch_keys: Collection[int]
) -> dict[int, tuple[str, bool]]:
    """Batch key -> (batch id, anchored?) for the batches of the leaves found."""
    known = _ANCHORED.setdefault(store, {})
    found = {k: (known[k], True) for k in batch_keys if k in known}
    missing = [k for k in batch_keys if k not in found]
    for batch_key, batch_id, status, tx in _BATCHES.rows(db, missing) if missing else ():
        anchored = status == "anchored" and tx is not None
        found[batch_key] = (batch_id, anchored)
        if anchored:
            if len(known) >= MAX_ANCHORED:
                known.clear()
            known[batch_key] = batch_id
    return found


def _record_batches(store: Store, record_ids: Sequence[str]) -> dict[str, str]:
    with store.session() as s:
        found = leaves.find_by_record_id(s, dict.fromkeys(record_ids))
    return {record_id: refs[0].batch_id for record_id, refs in found.items()}


def _mismatched(
    store: Store,
    hashes: Sequence[bytes],
    records: Sequence[Mapping[str, Any]],
    stored: Mapping[bytes, object],
) -> dict[int, str]:
    """Item index -> batch holding a stored record with its record id (content differs)."""
    ids: dict[int, str] = {}
    for i, digest in enumerate(hashes):
        if digest not in stored:  # only these records are looked at (see ParsedOnDemand)
            record_id = records[i].get("record_id")
            if record_id is not None:
                ids[i] = str(record_id)
    by_record = _record_batches(store, list(ids.values())) if ids else {}
    return {i: by_record[rid] for i, rid in ids.items() if rid in by_record}


class ParsedOnDemand(Sequence[Mapping[str, Any]]):
    """Records given as their JCS bytes, each parsed only when it is looked at."""

    def __init__(self, texts: Sequence[bytes]) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [orjson.loads(text) for text in self.texts[index]]
        record: Mapping[str, Any] = orjson.loads(self.texts[index])
        return record


def verify(
    store: Store,
    db: Connections,
    hashes: Sequence[bytes],
    records: Sequence[Mapping[str, Any]] | None = None,
    texts: Sequence[bytes] | None = None,
) -> list[Item]:
    """One result item per hash (as ``VerifyItem`` documents it, ``None`` members left out).

    ``records`` (same order) enable ``mismatch``; their JCS ``texts`` (same order) go
    in the bundles. A bundle is JSON already (an ``orjson.Fragment``): serialise the
    items with orjson (``api.responses.dumps``).
    """
    stored = _leaves(store, db, hashes)
    mismatched = _mismatched(store, hashes, records, stored) if records is not None else {}
    #: Per anchored batch: its items still to get a bundle, and their leaves.
    wanted: dict[str, tuple[AnchoredBatch, list[Item], list[int], list[bytes | None]]] = {}
    results: list[Item] = []
    for i, digest in enumerate(hashes):
        found = stored.get(digest)
        if found is None:
            batch_id = mismatched.get(i)
            status: OutcomeName = "unknown" if batch_id is None else "mismatch"
            results.append(_item(i, status, digest, batch_id))
            continue
        batch_id, index, batch, erased = found
        if erased:  # PIPL Art. 47: the hash stays in its tree, linked to no one
            results.append(_item(i, "erased", digest, batch_id))
            continue
        if batch is None:
            results.append(_item(i, "pending", digest, batch_id))
            continue
        item = _item(i, "anchored", digest, batch_id)
        _, items, indexes, shown = wanted.setdefault(batch_id, (batch, [], [], []))
        items.append(item)
        indexes.append(index)
        shown.append(None if texts is None else texts[i])
        results.append(item)
    for batch, items, indexes, shown in wanted.values():
        written = batch.bundles_bytes(indexes, shown)
        for item, bundle in zip(items, written, strict=True):
            item["bundle"] = orjson.Fragment(bundle)
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


__all__ = ["ParsedOnDemand", "batch_json", "record_texts", "verify"]
