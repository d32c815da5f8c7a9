"""Exported records (``ledger export``): one proof bundle per line, checked against the chain.

Each line must parse as a ``credit-anchor/proof-bundle/v1`` bundle whose record
hashes to its leaf, whose audit path leads to its root, and whose batch is
anchored on chain (replayed, not claimed) with that root and size. With a store,
the leaf must also be the store's leaf at that index. A leaf exported twice is
a finding: an export is one line per leaf.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from sqlalchemy import select

from ledger.anchoring.bundles import TreeCache, attestation
from ledger.audit.findings import AuditReport
from ledger.audit.replay import ChainState, Progress, hx
from ledger.errors import InputError, LedgerError
from ledger.proofs import ProofBundle, ProofError, make_bundle, record_leaf_hash, verify_inclusion
from ledger.store import Batch, Leaf, Store

EXPORT_FORMAT = "credit-anchor/proof-bundle/v1"


class _StoreLeaves:
    """The store's leaf hashes, one batch at a time (exports come batch by batch)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batch_id: str | None = None
        self.hashes: dict[int, bytes] = {}

    def get(self, batch_id: str, index: int) -> bytes | None:
        if batch_id != self.batch_id:
            with self.store.session() as s:
                rows = s.execute(
                    select(Leaf.leaf_index, Leaf.leaf_hash).where(Leaf.batch_id == batch_id)
                )
                self.hashes = {int(i): bytes(h) for i, h in rows}
            self.batch_id = batch_id
        return self.hashes.get(index)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    yield number, line
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the records file {path.name}: {exc}") from None


def check_records(
    path: Path,
    state: ChainState,
    store: Store | None,
    report: AuditReport,
    progress: Progress | None = None,
    sink: Callable[[ProofBundle], None] | None = None,
) -> None:
    """Check every line; hand each bundle that passes every check to ``sink``."""
    total = path.stat().st_size if path.exists() else 0
    leaves = None if store is None else _StoreLeaves(store)
    seen: dict[bytes, int] = {}
    read = checked = 0
    for number, line in _lines(path):
        read += len(line.encode())
        checked += 1
        try:
            bundle = ProofBundle.loads(line)
        except LedgerError:
            report.add("RECORD_UNREADABLE", line=number)
            continue
        where = {"batch_id": hx(bundle.batch_id), "leaf_index": bundle.leaf_index, "line": number}
        if bundle.leaf_hash in seen:
            report.add("RECORD_DUPLICATE", **where, expected=seen[bundle.leaf_hash], found=number)
            continue
        seen[bundle.leaf_hash] = number
        if _check_bundle(bundle, state, leaves, report, where) and sink is not None:
            sink(bundle)
        if progress is not None and checked % 1000 == 0:
            progress("records", read, total)
    report.checked["records"] = checked


def _check_bundle(
    bundle: ProofBundle,
    state: ChainState,
    leaves: _StoreLeaves | None,
    report: AuditReport,
    where: dict[str, object],
) -> bool:
    if bundle.record is not None:
        computed = record_leaf_hash(bundle.record)
        if computed != bundle.leaf_hash:
            report.add(
                "RECORD_HASH_MISMATCH", **where, expected=hx(bundle.leaf_hash), found=hx(computed)
            )
            return False
    try:
        verify_inclusion(
            bundle.leaf_hash, bundle.leaf_index, bundle.tree_size, bundle.audit_path, bundle.root
        )
    except ProofError:
        report.add("RECORD_PROOF_INVALID", **where, expected=hx(bundle.root))
        return False
    anchor = state.anchors.get(str(where["batch_id"]))
    if anchor is None or (anchor.root, anchor.tree_size) != (hx(bundle.root), bundle.tree_size):
        report.add(
            "RECORD_NOT_ANCHORED",
            **where,
            expected=None if anchor is None else anchor.root,
            found=hx(bundle.root),
        )
        return False
    if leaves is not None:
        stored = leaves.get(anchor.batch_id, bundle.leaf_index)
        if stored != bundle.leaf_hash:
            report.add(
                "RECORD_STORE_MISMATCH",
                **where,
                expected=hx(bundle.leaf_hash),
                found=None if stored is None else hx(stored),
            )
            return False
    return True


def export_records(
    store: Store,
    out: IO[str],
    *,
    kinds: frozenset[int] | None = None,
    progress: Progress | None = None,
) -> int:
    """Write a bundle line for every leaf of every anchored batch; returns how many.

    Erased leaves are exported by hash only (their record and salt are gone).
    """
    trees = TreeCache(size=1)
    written = 0
    with store.session() as s:
        query = select(Batch).where(Batch.status == "anchored").order_by(Batch.seq)
        batches = [b for b in s.scalars(query) if kinds is None or b.kind in kinds]
    for done, batch in enumerate(batches, 1):
        tree = trees.tree(store, batch.batch_id)
        anchor = attestation(batch)
        batch_id = bytes.fromhex(batch.batch_id[2:])
        with store.session() as s:
            rows = s.execute(
                select(Leaf.leaf_index, Leaf.leaf_hash, Leaf.canonical)
                .where(Leaf.batch_id == batch.batch_id)
                .order_by(Leaf.leaf_index)
            )
            for index, leaf_hash, canonical in rows:
                record = None if canonical is None else json.loads(canonical)
                bundle = make_bundle(record, index, tree, batch_id, anchor, leaf_hash=leaf_hash)
                out.write(json.dumps(bundle.to_json(), ensure_ascii=False) + "\n")
                written += 1
        if progress is not None:
            progress("export", done, len(batches))
    return written
