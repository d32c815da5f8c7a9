"""Exports read a chunk at a time, held to the rule: every line as ``scan_line`` reads it.

The lines are :mod:`tests.audit.export_samples`': real bundles, and hostile lines beside them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ledger.audit import _export_runs
from ledger.audit._export_lines import scan_line
from ledger.audit._export_runs import Run, _chunk, _read, scan
from ledger.proofs import bundle_text
from tests.audit.export_samples import HOSTILE, as_export, bundle_of, bundles, lines_with
from tests.audit.test_export_lines import scanned_lines, text_reading


def test_the_export_form_is_bundle_text() -> None:
    _, (first, *_) = bundles()
    assert as_export(first) == bundle_text(bundle_of(first), indent=None) + "\n"


@pytest.fixture(params=[1, 3000, 1 << 20], ids=["line-chunks", "small-chunks", "one-chunk"])
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(_export_runs, "CHUNK_CHARS", request.param)
    return int(request.param)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_every_line_reads_as_the_rule_reads_it(hostile: str, chunk: int, tmp_path: Path) -> None:
    _, made = lines_with(hostile)
    path = tmp_path / "export.jsonl"
    path.write_text("".join(made), encoding="utf-8")
    # repr: a record holding NaN is not equal to itself
    assert repr(scanned_lines(path)) == repr([entry for _, entry in text_reading(path)])


@pytest.mark.parametrize(
    "hostile",
    [
        "float hashed as orjson writes it",
        "integral float",
        "integer beyond 2**53",
        "integer beyond 2**64",
        "NaN",
        "lone surrogate",
        "lone surrogate in a key",
        "record nested five levels",
        "100000 levels in the record",
        "100000 levels as the anchor",
        "100000 levels in another member",
        "astral keys, sorted by code point",
        "record tampered",
        "anchor nested",
        "another member",
        "index twice, the last out of range",
        "index a boolean",
        "size a float",
        "path hash with a space",
        "two bundles on a line",
        "blank",
    ],
)
def test_such_a_line_is_left_to_the_rule_and_only_it(hostile: str) -> None:
    """The lines around it are still vouched for, in runs that end at it."""
    _, made = lines_with(hostile)
    lines = [*made[:3], made[3], made[13]]  # three of batch 0, it, one of batch 2
    read = [lines for _, lines in _chunk(1, lines, keep_record=False)]
    left = [] if hostile == "blank" else [scan_line(4, made[3], keep_record=False)]
    assert [r for r in read if not isinstance(r, Run)] == left
    runs = [(r.first, len(r)) for r in read if isinstance(r, Run)]
    assert runs == [(1, 3), (5, 1)]


@pytest.mark.parametrize(
    "hostile",
    ["non-ASCII key", "astral keys, sorted by UTF-16", "record left out", "anchor left out"],
)
def test_ordinary_lines_of_other_shapes_are_vouched_for(hostile: str) -> None:
    """Their canonical form (the UTF-16 key order included) is canonical_bytes' own."""
    _, made = lines_with(hostile)
    read = [lines for _, lines in _chunk(1, made[:4], keep_record=True)]
    assert all(isinstance(r, Run) for r in read)
    entries = [e for r in read if isinstance(r, Run) for e in r.entries()]
    assert entries[3] == scan_line(4, made[3], keep_record=True)


def test_the_decoder_reads_no_deeper_than_its_type() -> None:
    """A line nested 100000 deep, with the recursion limit web3's py_ecc sets: refused, no crash."""
    _, made = lines_with("100000 levels in the record")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        assert _read([made[3]]) is None
        assert _chunk(4, [made[3]], keep_record=False) == [(len(made[3]), 4)]
    finally:
        sys.setrecursionlimit(limit)


def test_an_ordinary_export_is_read_in_runs_one_per_batch(tmp_path: Path) -> None:
    _, all_bundles = bundles()
    path = tmp_path / "export.jsonl"
    path.write_text("".join(map(as_export, all_bundles)), encoding="utf-8")
    read = [lines for _, lines in scan(path, keep_record=False)]
    assert all(isinstance(lines, Run) for lines in read)
    assert [(run.first, len(run)) for run in read] == [(1, 5), (6, 8), (14, 1)]  # type: ignore[union-attr]
