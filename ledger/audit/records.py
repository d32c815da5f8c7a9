"""Exported records (``ledger export``): one proof bundle per line, checked against the chain.

Each line must be a ``credit-anchor/proof-bundle/v1`` bundle whose record hashes
to its leaf and whose batch is anchored on chain (replayed, not claimed) with
that root and size. Lines come batch by batch: when every leaf of a batch is
there, its tree is rebuilt and compared with the anchored root (one hash per
leaf); otherwise each line's audit path is checked. With a store, every leaf
must also be the store's leaf at that index. A leaf exported twice is a finding:
an export is one line per leaf.

Lines come from :func:`ledger.audit._export_runs.scan`: runs of lines already
read and hashing right, as columns, judged here a run at a time (a leaf seen
twice sends its run line by line), and every other line as the rule read it.

A line carries no id beside its record, and the store's record ids are not read
here: an exported record that is the store's leaf is the store's record, whose
own id the store pass holds to the id the store files it under
(``LEAF_RECORD_ID_MISMATCH``); a rebuild files it under its own id.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select

from ledger.anchoring.bundles import TreeCache, attestation
from ledger.audit._export_lines import RECORD_BAD_FORM, RECORD_OTHER_HASH, Entry
from ledger.audit._export_runs import Run, scan
from ledger.audit.findings import AuditReport
from ledger.audit.replay import ChainAnchor, ChainState, Progress, hx
from ledger.errors import InputError
from ledger.proofs import (
    HASH_SIZE,
    ProofError,
    bundle_text,
    make_bundle,
    root_of,
    verify_inclusion,
)
from ledger.store import Batch, Store, leaves


@dataclass(frozen=True, slots=True)
class ExportedLeaf:
    """One line of an export, parsed just enough to check it.

    ``audit_path`` holds the path's hashes joined: a complete batch is judged by
    its whole tree, and only lines judged one by one need them apart. ``record``
    is None when the line has none, or when no sink asked for records.
    """

    line: int
    batch_id: str
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    root: str
    audit_path: bytes
    record: dict[str, Any] | None

    @property
    def where(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "leaf_index": self.leaf_index, "line": self.line}

    @property
    def path_hashes(self) -> list[bytes]:
        path = self.audit_path
        return [path[i : i + HASH_SIZE] for i in range(0, len(path), HASH_SIZE)]


Sink = Callable[[ExportedLeaf], None]


def _items(runs: list[Run]) -> list[ExportedLeaf]:
    """The lines of ``runs``, one object each (for the lines judged one by one)."""
    return [
        ExportedLeaf(run.first + i, run.batch_id, index, size, leaf, root, run.path(i), record)
        for run in runs
        for i, (index, size, leaf, root, record) in enumerate(
            zip(
                run.indexes, run.sizes, run.leaves, run.roots,
                run.records or [None] * len(run), strict=True,
            )
        )
    ]  # fmt: skip


class _StoreLeaves:
    """The store's leaf hashes, one batch at a time (exports come batch by batch)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batch_id: str | None = None
        self.hashes: dict[int, bytes] = {}

    def batch(self, batch_id: str) -> dict[int, bytes]:
        if batch_id != self.batch_id:
            with self.store.session() as s:
                self.hashes = leaves.batch_hash_map(s, batch_id)
            self.batch_id = batch_id
        return self.hashes

    def get(self, batch_id: str, index: int) -> bytes | None:
        return self.batch(batch_id).get(index)


@dataclass
class _Checker:
    state: ChainState
    report: AuditReport
    leaves: _StoreLeaves | None
    sink: Sink | None
    seen: dict[bytes, int] = field(default_factory=dict)
    group: list[Run] = field(default_factory=list)  # the lines of one batch, so far
    checked: int = 0

    def take(self, lines: Run | Entry) -> None:
        """A run of lines that hash right, or one line as the rule read it."""
        if not isinstance(lines, Run):
            self.take_line(lines)
            return
        fresh = set(lines.leaves)
        if len(fresh) != len(lines) or not self.seen.keys().isdisjoint(fresh):
            for entry in lines.entries():  # a leaf seen twice: line by line, in order
                self.take_line(entry)
            return
        self.checked += len(lines)
        numbers = range(lines.first, lines.first + len(lines))
        self.seen.update(zip(lines.leaves, numbers, strict=True))
        self._add(lines)

    def take_line(self, entry: Entry) -> None:
        """One scanned line: unreadable, a duplicate, a record that hashes elsewhere, or kept."""
        self.checked += 1
        if isinstance(entry, int):
            self.report.add("RECORD_UNREADABLE", line=entry)
            return
        number, batch_id, index, _, leaf, _, _, _, verdict, computed = entry
        where = {"batch_id": batch_id, "leaf_index": index, "line": number}
        if leaf in self.seen:
            first = self.seen[leaf]
            self.report.add("RECORD_DUPLICATE", **where, expected=first, found=number)
            return
        self.seen[leaf] = number
        if verdict == RECORD_BAD_FORM:
            self.report.add("RECORD_UNREADABLE", line=number)
            return
        if verdict == RECORD_OTHER_HASH:
            self.report.add("RECORD_HASH_MISMATCH", **where, expected=hx(leaf), found=hx(computed))
            return
        self._add(Run.of(entry))

    def _add(self, run: Run) -> None:
        if self.group and self.group[0].batch_id != run.batch_id:
            self.finish()
        self.group.append(run)

    def finish(self) -> None:
        """Judge the lines of one batch: by its whole tree when complete, else line by line."""
        group, self.group = self.group, []
        if not group:
            return
        anchor = self.state.anchors.get(group[0].batch_id)
        if anchor is not None and self._whole_tree(group, anchor):
            if self._all_in_store(group):  # the usual batch: no object per line, unless sunk
                if self.sink is not None:
                    self._sink(_items(group))
                return
            passed = _items(group)
        else:
            passed = [item for item in _items(group) if self._one(item, anchor)]
        self._sink([item for item in passed if self._in_store(item)])

    def _sink(self, items: list[ExportedLeaf]) -> None:
        if self.sink is not None:
            for item in items:
                self.sink(item)

    def _all_in_store(self, group: list[Run]) -> bool:
        """Every leaf of a whole batch is the store's (or there is no store to ask)."""
        if self.leaves is None:
            return True
        stored = self.leaves.batch(group[0].batch_id)
        return all(list(map(stored.get, run.indexes)) == list(run.leaves) for run in group)

    def _whole_tree(self, group: list[Run], anchor: ChainAnchor) -> bool:
        """The lines are the anchored tree's leaves 0 to size - 1, and build its root."""
        size, root = anchor.tree_size, anchor.root
        if sum(map(len, group)) != size:
            return False
        for run in group:
            if run.roots.count(root) != len(run) or run.sizes.count(size) != len(run):
                return False
        indexes = list(chain.from_iterable(run.indexes for run in group))
        hashes = list(chain.from_iterable(run.leaves for run in group))
        if indexes != list(range(size)):
            order = sorted(range(size), key=indexes.__getitem__)
            if [indexes[i] for i in order] != list(range(size)):
                return False
            hashes = [hashes[i] for i in order]
        return hx(root_of(b"".join(hashes))) == root

    def _one(self, item: ExportedLeaf, anchor: ChainAnchor | None) -> bool:
        root = bytes.fromhex(item.root[2:])
        try:
            verify_inclusion(
                item.leaf_hash, item.leaf_index, item.tree_size, item.path_hashes, root
            )
        except ProofError:
            self.report.add("RECORD_PROOF_INVALID", **item.where, expected=item.root)
            return False
        if anchor is None or (anchor.root, anchor.tree_size) != (item.root, item.tree_size):
            expected = None if anchor is None else anchor.root
            self.report.add("RECORD_NOT_ANCHORED", **item.where, expected=expected, found=item.root)
            return False
        return True

    def _in_store(self, item: ExportedLeaf) -> bool:
        if self.leaves is None:
            return True
        stored = self.leaves.get(item.batch_id, item.leaf_index)
        if stored == item.leaf_hash:
            return True
        self.report.add(
            "RECORD_STORE_MISMATCH",
            **item.where,
            expected=hx(item.leaf_hash),
            found=None if stored is None else hx(stored),
        )
        return False


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """No cycle collection while it runs: its objects hold no cycles, refcounting frees them.

    A line makes a handful of dicts and tuples; the collector would otherwise run every
    ~700 of them and walk every live object (replayed state, seen hashes, the caller's
    own), for ~20% of the records pass.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_records(
    path: Path,
    state: ChainState,
    store: Store | None,
    report: AuditReport,
    progress: Progress | None = None,
    sink: Sink | None = None,
) -> None:
    """Check every line; hand each leaf that passes every check to ``sink``."""
    total = path.stat().st_size if path.exists() else 0
    checker = _Checker(state, report, None if store is None else _StoreLeaves(store), sink)
    scanned = scan(path, keep_record=sink is not None)
    read = shown = 0
    try:
        with _no_cycle_collection():
            for size, lines in scanned:
                read += size
                checker.take(lines)
                if progress is not None and checker.checked - shown >= 5000:
                    shown = checker.checked
                    progress("records", read, total)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the records file {path.name}: {exc}") from None
    checker.finish()
    report.checked["records"] = checker.checked


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
        found = trees.anchored(store, batch.batch_id)
        assert found is not None  # only anchored batches were selected
        tree = found.tree
        anchor = attestation(batch)
        batch_id = bytes.fromhex(batch.batch_id[2:])
        with store.session() as s:
            stored = leaves.batch_leaves(s, batch.batch_id)
        for index, leaf_hash, canonical in (
            (x.leaf_index, x.leaf_hash, x.canonical) for x in stored
        ):
            record = None if canonical is None else json.loads(canonical)
            bundle = make_bundle(record, index, tree, batch_id, anchor, leaf_hash=leaf_hash)
            out.write(bundle_text(bundle, indent=None) + "\n")
            written += 1
        if progress is not None:
            progress("export", done, len(batches))
    return written
