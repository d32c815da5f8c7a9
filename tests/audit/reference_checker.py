"""The records check as it was before export lines were read a chunk at a time: the reference.

Every line read by the rule (``scan_line``), one object per line, judged one line
at a time. Slow and plain: the tests hold :func:`ledger.audit.records.check_records`
to exactly its findings, in the same order, and to the same records passed on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ledger.audit._export_lines import RECORD_BAD_FORM, RECORD_OTHER_HASH, Entry, scan_line
from ledger.audit.findings import AuditReport
from ledger.audit.records import ExportedLeaf, Sink
from ledger.audit.replay import ChainAnchor, ChainState, hx
from ledger.proofs import ProofError, root_of, verify_inclusion
from ledger.store import Store, leaves


@dataclass
class ReferenceChecker:
    state: ChainState
    report: AuditReport
    store: Store | None
    sink: Sink | None
    seen: dict[bytes, int] = field(default_factory=dict)
    group: list[ExportedLeaf] = field(default_factory=list)
    checked: int = 0

    def take(self, entry: Entry) -> None:
        self.checked += 1
        if isinstance(entry, int):
            self.report.add("RECORD_UNREADABLE", line=entry)
            return
        number, batch_id, index, size, leaf, root, path, record, verdict, computed = entry
        item = ExportedLeaf(number, batch_id, index, size, leaf, root, path, record)
        if leaf in self.seen:
            first = self.seen[leaf]
            self.report.add("RECORD_DUPLICATE", **item.where, expected=first, found=number)
            return
        self.seen[leaf] = number
        if verdict == RECORD_BAD_FORM:
            self.report.add("RECORD_UNREADABLE", line=number)
            return
        if verdict == RECORD_OTHER_HASH:
            self.report.add(
                "RECORD_HASH_MISMATCH", **item.where, expected=hx(leaf), found=hx(computed)
            )
            return
        if self.group and self.group[0].batch_id != batch_id:
            self.finish()
        self.group.append(item)

    def finish(self) -> None:
        group, self.group = self.group, []
        if not group:
            return
        anchor = self.state.anchors.get(group[0].batch_id)
        if anchor is not None and self._whole_tree(group, anchor):
            passed = group
        else:
            passed = [item for item in group if self._one(item, anchor)]
        stored = [item for item in passed if self._in_store(item)]
        if self.sink is not None:
            for item in stored:
                self.sink(item)

    def _whole_tree(self, group: list[ExportedLeaf], anchor: ChainAnchor) -> bool:
        if len(group) != anchor.tree_size:
            return False
        ordered = sorted(group, key=lambda item: item.leaf_index)
        if any(item.leaf_index != i for i, item in enumerate(ordered)):
            return False
        if any((item.root, item.tree_size) != (anchor.root, anchor.tree_size) for item in group):
            return False
        return hx(root_of(b"".join([item.leaf_hash for item in ordered]))) == anchor.root

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
        if self.store is None:
            return True
        with self.store.session() as s:
            stored = leaves.batch_hash_map(s, item.batch_id).get(item.leaf_index)
        if stored == item.leaf_hash:
            return True
        self.report.add(
            "RECORD_STORE_MISMATCH",
            **item.where,
            expected=hx(item.leaf_hash),
            found=None if stored is None else hx(stored),
        )
        return False


def reference_check(
    path: Path, state: ChainState, store: Store | None, sink: Sink | None = None
) -> AuditReport:
    """The report of the reference check (which hands ``sink`` what passes)."""
    report = AuditReport()
    checker = ReferenceChecker(state, report, store, sink)
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.isspace():
                checker.take(scan_line(number, line, keep_record=sink is not None))
    checker.finish()
    report.checked["records"] = checker.checked
    return report
