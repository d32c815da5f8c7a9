"""Verifying records or leaf hashes against the store: anchored, pending, unknown, mismatch.

What ``POST /v1/verify`` answers (DESIGN.md), for one item or 10,000 at once:
leaves are found by the 64-bit keys of their hashes in one query (with their
batch's state), each candidate is confirmed against the full hash (from the
cached tree of an anchored batch, or the store for a pending one), and each
anchored item gets its proof bundle, written as JSON by the batch's
:class:`~ledger.proofs.BatchBundles`. A mismatch (record id known, leaf hash
not) names only the stored batch: stored content is never echoed.

Items are plain JSON data; a bundle is JSON text already (an ``orjson.Fragment``),
so serialise them with orjson.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, get_args

import orjson

from ledger.anchoring.bundles import TREES, AnchoredBatch
from ledger.errors import InputError
from ledger.proofs import CanonicalFormError, canonical_records, leaf_hash, record_canonical
from ledger.store import Store, leaves

Outcome = Literal["anchored", "pending", "unknown", "mismatch", "erased"]
OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)
Item = dict[str, Any]
#: Where a stored leaf is: batch id, leaf index, the batch if it is anchored (None while
#: pending), and whether its record was erased.
Found = tuple[str, int, AnchoredBatch | None, bool]


def verify_records(store: Store, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"counts": ..., "results": [...]}`` for submitted records (with their salts).

    Each record is canonicalised exactly as at submission; one without a canonical
    form is an :class:`InputError` naming its position and path, never its values.
    """
    try:
        texts = canonical_records(records)
    except CanonicalFormError:
        for index, record in enumerate(records):  # which one, and where in it
            try:
                record_canonical(record)
            except CanonicalFormError as exc:
                message = f"records[{index}] has no canonical form: {exc.message}"
                raise InputError(message) from None
        raise
    return _answer(store, [leaf_hash(text) for text in texts], records, texts)


def verify_leaf_hashes(store: Store, hashes: Sequence[bytes]) -> dict[str, Any]:
    """``{"counts": ..., "results": [...]}`` for leaf hashes (bundles without records)."""
    return _answer(store, hashes)


def _answer(
    store: Store,
    hashes: Sequence[bytes],
    records: Sequence[Mapping[str, Any]] | None = None,
    texts: Sequence[bytes] | None = None,
) -> dict[str, Any]:
    results = verify(store, hashes, records, texts)
    counts = dict.fromkeys(OUTCOMES, 0)
    for item in results:
        counts[item["status"]] += 1
    return {"counts": counts, "results": results}


def verify(
    store: Store,
    hashes: Sequence[bytes],
    records: Sequence[Mapping[str, Any]] | None = None,
    texts: Sequence[bytes] | None = None,
) -> list[Item]:
    """One result item per hash (``index``, ``status``, ``leaf_hash``, and ``batch_id``
    and ``bundle`` where there is one). ``records`` (same order) enable ``mismatch``;
    their JCS ``texts`` (same order) go in the bundles."""
    stored = _stored(store, hashes)
    mismatched = _mismatched(store, hashes, records, stored) if records is not None else {}
    #: Per anchored batch: its items still to get a bundle, their leaves and records.
    wanted: dict[str, tuple[AnchoredBatch, list[Item], list[int], list[bytes | None]]] = {}
    results: list[Item] = []
    for i, digest in enumerate(hashes):
        found = stored.get(digest)
        if found is None:
            batch_id = mismatched.get(i)
            results.append(
                _item(i, "unknown" if batch_id is None else "mismatch", digest, batch_id)
            )
            continue
        batch_id, index, batch, erased = found
        if erased:  # PIPL Art. 47: the hash stays in its tree, linked to no one
            results.append(_item(i, "erased", digest, batch_id))
        elif batch is None:
            results.append(_item(i, "pending", digest, batch_id))
        else:
            item = _item(i, "anchored", digest, batch_id)
            _, items, indexes, shown = wanted.setdefault(batch_id, (batch, [], [], []))
            items.append(item)
            indexes.append(index)
            shown.append(None if texts is None else texts[i])
            results.append(item)
    for batch, items, indexes, shown in wanted.values():
        for item, bundle in zip(items, batch.writer.write(indexes, shown), strict=True):
            item["bundle"] = orjson.Fragment(bundle)
    return results


def _item(index: int, status: Outcome, digest: bytes, batch_id: str | None) -> Item:
    item: Item = {"index": index, "status": status, "leaf_hash": "0x" + digest.hex()}
    if batch_id is not None:
        item["batch_id"] = batch_id
    return item


def _stored(store: Store, hashes: Sequence[bytes]) -> dict[bytes, Found]:
    """Leaf hash -> where it is stored, for the stored ones.

    Keys are 64-bit prefixes: each candidate is confirmed against the full hash,
    from the cached tree of an anchored batch, or from the store for a pending one.
    """
    unique = list(dict.fromkeys(hashes))
    wanted: dict[int, list[bytes]] = {}
    for key, digest in zip(leaves.leaf_keys(b"".join(unique)), unique, strict=True):
        wanted.setdefault(key, []).append(digest)
    with store.read() as conn:  # one read: no ORM session to set up and tear down
        candidates = leaves.hash_candidates(conn, list(wanted))
    found: dict[bytes, Found] = {}
    pending: list[tuple[list[bytes], str, int, bool]] = []
    trees: dict[str, AnchoredBatch | None] = {}
    for key, batch_id, index, erased, anchored in candidates:
        if not anchored:
            pending.append((wanted[key], batch_id, index, erased))
            continue
        if batch_id not in trees:
            trees[batch_id] = TREES.anchored(store, batch_id)
        batch = trees[batch_id]
        leaf = None if batch is None else batch.tree.leaf(index)
        if leaf is not None and leaf in wanted[key]:
            found[leaf] = (batch_id, index, batch, erased)
    if pending:
        with store.session() as s:
            for digests, batch_id, index, erased in pending:
                for digest, refs in leaves.find_by_hash(s, digests).items():
                    if any(r.batch_id == batch_id and r.leaf_index == index for r in refs):
                        found.setdefault(digest, (batch_id, index, None, erased))
    return found


def _mismatched(
    store: Store,
    hashes: Sequence[bytes],
    records: Sequence[Mapping[str, Any]],
    stored: Mapping[bytes, object],
) -> dict[int, str]:
    """Item index -> batch holding a stored record with its record id (content differs)."""
    ids: dict[int, str] = {}
    for i, digest in enumerate(hashes):
        if digest not in stored:
            record_id = records[i].get("record_id")
            if record_id is not None:
                ids[i] = str(record_id)
    if not ids:
        return {}
    with store.session() as s:
        found = leaves.find_by_record_id(s, dict.fromkeys(ids.values()))
    by_record = {record_id: refs[0].batch_id for record_id, refs in found.items()}
    return {i: by_record[rid] for i, rid in ids.items() if rid in by_record}
