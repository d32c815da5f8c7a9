"""The CSV fast path gives exactly what full validation gives, or steps aside (None)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ledger.records import CsvFastPath, RecordRejected, _fastpath, synthetic_rows, validate_record
from ledger.records.readers import CsvCells, csv_cells_from_text, write_csv
from ledger.records.schema import PERSONAL_FIELDS


def _perturb(rng: random.Random, cells: list[str]) -> list[str]:
    """Cells as partners really write them: padded, lower-case, short amounts, blanks."""
    out = list(cells)
    for i, cell in enumerate(out):
        roll = rng.random()
        if roll < 0.03:
            out[i] = f" {cell} "
        elif roll < 0.05:
            out[i] = cell.lower()
        elif roll < 0.06:
            out[i] = cell.removesuffix("0")
        elif roll < 0.07:
            out[i] = "   "
        elif roll < 0.08:
            out[i] = ""
    return out


def _cells(tmp_path: Path, rows: int, seed: int) -> list[CsvCells]:
    path = tmp_path / "p.csv"
    write_csv(synthetic_rows(rows, seed=seed, invalid_ratio=0.3), path)
    items = list(csv_cells_from_text(path.read_text(encoding="utf-8")))
    assert all(isinstance(item, CsvCells) for item in items)
    return [item for item in items if isinstance(item, CsvCells)]


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_path_agrees_with_full_validation(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    items = _cells(tmp_path, 1500, seed)
    fast = CsvFastPath(items[0].header)
    taken = refused = 0
    for item in items:
        cells = _perturb(rng, item.cells) if rng.random() < 0.5 else item.cells
        row = CsvCells(item.row_number, item.header, cells).raw_row()
        assert row.fields is not None
        try:
            expected: dict[str, object] | None = validate_record(row.fields)
        except RecordRejected:
            expected = None
            refused += 1
        got = fast.validate(cells)
        if got is not None:
            taken += 1
            assert expected is not None
            assert list(got.items()) == list(expected.items())  # same values, same order
    assert taken > 500 and refused > 200  # both ways really exercised


def test_memos_hold_no_personal_values(tmp_path: Path) -> None:
    items = _cells(tmp_path, 300, 3)
    fast = CsvFastPath(items[0].header)
    for item in items:
        fast.validate(item.cells)
    assert _fastpath._MEMOS, "memos are in use"
    assert not PERSONAL_FIELDS & _fastpath._MEMOS.keys()
    personal = {
        cell
        for item in items
        for name, cell in zip(item.header, item.cells, strict=True)
        if name in PERSONAL_FIELDS and cell
    }
    for memo in _fastpath._MEMOS.values():
        assert not personal & memo.keys()


def test_a_header_without_a_required_column_is_left_to_full_validation() -> None:
    fast = CsvFastPath(["report_id", "period"])
    assert fast.validate(["R-1", "2025-01"]) is None
