"""The records check against the line-by-line check it replaced (``reference_checker``):
the same report, findings in the same order, and the same records handed to the sink,
for exports spoilt in every way the audit reports, with and without a real store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.audit import _export_runs
from ledger.audit.findings import AuditReport
from ledger.audit.records import ExportedLeaf, check_records
from ledger.audit.replay import ChainState
from ledger.proofs import canonical_bytes
from ledger.store import Batch, Store, StoredLeaf, leaves
from tests.audit.export_samples import HOSTILE, SIZES, as_ascii, as_export, bundles, with_record
from tests.audit.reference_checker import reference_check

Edit = Callable[[list[dict[str, Any]], list[str], int], None]
#: Ways to spoil an export, each at a line; "hostile" ones are named from HOSTILE.
EDITS: dict[str, Edit] = {
    "drop": lambda b, lines, i: lines.__setitem__(i, ""),
    "duplicate": lambda b, lines, i: lines.insert(i, lines[i]),
    "duplicate elsewhere": lambda b, lines, i: lines.append(lines[i]),
    "swap with the next": lambda b, lines, i: lines.insert(i + 1, lines.pop(i)),
    "wrong path": lambda b, lines, i: lines.__setitem__(
        i, as_export({**b[i], "audit_path": ["0x" + "00" * 32] * len(b[i]["audit_path"])})
    ),
    "another root": lambda b, lines, i: lines.__setitem__(
        i, as_export({**b[i], "root": "0x" + "ab" * 32})
    ),
    "another size": lambda b, lines, i: lines.__setitem__(i, as_export({**b[i], "tree_size": 9})),
    "unknown batch": lambda b, lines, i: lines.__setitem__(
        i, as_export({**b[i], "batch_id": "0x" + "ee" * 32})
    ),
    "forged leaf": lambda b, lines, i: lines.__setitem__(
        i, as_export(with_record(b[i], {**b[i]["record"], "amount_due": "9.99"}))
    ),
    "erased": lambda b, lines, i: lines.__setitem__(
        i, as_export({k: v for k, v in b[i].items() if k != "record"})
    ),
    "ascii form": lambda b, lines, i: lines.__setitem__(i, as_ascii(b[i])),
}


def edit(name: str) -> Edit:
    if name in EDITS:
        return EDITS[name]
    return lambda b, lines, i: lines.__setitem__(i, HOSTILE[name](b[i]))


def stored(
    tmp_path: Path, state: ChainState, all_bundles: list[dict[str, Any]], skip: int
) -> Store:
    """A real store holding every leaf but one (and leaf 0 of the first batch another's)."""
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    by_batch: dict[str, list[StoredLeaf]] = {}
    for n, b in enumerate(all_bundles):
        leaf = bytes.fromhex(b["leaf_hash"][2:]) if n else bytes(32)
        if n != skip:
            by_batch.setdefault(b["batch_id"], []).append(
                StoredLeaf(b["batch_id"], b["leaf_index"], None, leaf, canonical_bytes(b["record"]))
            )
    with store.session() as s, s.begin():
        for batch_id, anchor in state.anchors.items():
            s.add(
                Batch(
                    batch_id=batch_id, kind=1, tree_size=anchor.tree_size, root=anchor.root,
                    manifest="{}", manifest_hash=anchor.manifest_hash, status="anchored",
                    created_at="2026-11-26T04:00:00Z",
                )
            )  # fmt: skip
        s.flush()
        for batch_id, rows in by_batch.items():
            leaves.add_leaves(s, batch_id, rows)
    return store


def passed(into: list[tuple[Any, ...]]) -> Callable[[ExportedLeaf], None]:
    return lambda item: into.append(
        (item.line, item.batch_id, item.leaf_index, item.leaf_hash, item.record)
    )


@settings(max_examples=80, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(sorted(EDITS) + sorted(HOSTILE)), st.integers(0, sum(SIZES) - 1)),
        max_size=4,
    ),
    chunk_chars=st.sampled_from([1, 2000, 1 << 20]),
    with_store=st.booleans(),
    skip=st.integers(0, sum(SIZES)),
)
# An unordered complete batch one of whose paths is wrong: whole, it passes its tree.
@example(
    edits=[("swap with the next", 1), ("wrong path", 3)],
    chunk_chars=1 << 20,
    with_store=False,
    skip=99,
)
# An erased line beside a record that hashes elsewhere, in one chunk.
@example(
    edits=[("erased", 6), ("record tampered", 8)], chunk_chars=1 << 20, with_store=True, skip=99
)
# A leaf seen twice within a run, and once more in a later batch.
@example(
    edits=[("duplicate", 2), ("duplicate elsewhere", 0)], chunk_chars=2000, with_store=True, skip=3
)
def test_findings_and_passed_records_are_the_line_by_line_checks(
    edits: list[tuple[str, int]],
    chunk_chars: int,
    with_store: bool,
    skip: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp_path = tmp_path_factory.mktemp("export")
    state, all_bundles = bundles()
    made = [as_export(b) for b in all_bundles]
    for name, at in edits:
        edit(name)(all_bundles, made, at)
    path = tmp_path / "export.jsonl"
    path.write_text("".join(made), encoding="utf-8")
    store = stored(tmp_path, state, all_bundles, skip) if with_store else None
    try:
        expected: list[tuple[Any, ...]] = []
        reference = reference_check(path, state, store, passed(expected))
        found: list[tuple[Any, ...]] = []
        report = AuditReport()
        with chunks_of(chunk_chars):
            check_records(path, state, store, report, sink=passed(found))
    finally:
        if store is not None:
            store.close()
    assert repr(report.to_json()) == repr(reference.to_json())
    assert repr(found) == repr(expected)


@contextmanager
def chunks_of(chars: int) -> Iterator[None]:
    """Chunks of ``chars`` characters (lines are read whole: 1 is a line at a time)."""
    saved = _export_runs.CHUNK_CHARS
    _export_runs.CHUNK_CHARS = chars
    try:
        yield
    finally:
        _export_runs.CHUNK_CHARS = saved
