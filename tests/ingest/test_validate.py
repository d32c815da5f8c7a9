"""Column-wise validation against the per-record reference, row by row.

A chunk's cells are checked column by column (normal forms, then each distinct
cell once) and the cross-field rules run on the whole chunk; the reference is
:func:`~ledger.records.validate_record` on each row's fields alone. On random
mutations of valid rows both must accept the same rows with the same values,
and refuse the others with the same problems in the same order.
"""

from __future__ import annotations

import csv
import functools
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.ingest.read import read_csv
from ledger.ingest.validate import validate
from ledger.records import RecordRejected, synthetic_rows, validate_record
from ledger.records.frame import ROW
from ledger.records.readers import csv_row, write_csv
from ledger.records.schema import FIELD_NAMES

BASE = list(synthetic_rows(40, seed=21, invalid_ratio=0.0))
MUTATIONS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "\t",
            "0",
            "-1",
            "1e5",
            "00.50",
            "0.5",
            "12.345",
            "999999999.99",
            "1000000000",
            "2025-02-30",
            "2025-13",
            "1999-12-31",
            "D1",
            "r1",
            " CNY ",
            "usd",
            "9",
            "X",
            "10",
            "N*#",
            "a|b",
            "A:1|B:2",
            "张三",
            "x" * 70,
            "0x" + "ab" * 32,
            "13800138000",
            "+86 138-0013-8000",
            "110101199003077777",
            "91110000600037341L",
        ]
    ),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
)
EDITS = st.lists(
    st.tuples(st.integers(0, len(BASE) - 1), st.sampled_from(FIELD_NAMES), MUTATIONS),
    max_size=30,
)


def _text(rows: list[dict[str, Any]]) -> tuple[str, str]:
    from pathlib import Path
    from tempfile import TemporaryDirectory

    with TemporaryDirectory() as folder:
        path = Path(folder) / "p.csv"
        write_csv(rows, path)
        header, _, body = path.read_text(encoding="utf-8").partition("\n")
    return header + "\n", body


def _reference(header: list[str], body: str) -> list[tuple[int, object]]:
    rows = csv.reader(io.StringIO(body, newline=""))
    return [
        (number, _row_reference(tuple(header), tuple(cells)))
        for number, cells in enumerate(rows, 1)
    ]


@functools.cache
def _row_reference(header: tuple[str, ...], cells: tuple[str, ...]) -> object:
    """:func:`validate_record` of one row's fields alone: the record, or its problems.

    Remembered by the row's cells (the header is the same in every example): most rows
    of an example are rows of ``BASE`` no edit touched, and a one-row validation costs
    milliseconds, 40 of them per example.
    """
    fields = csv_row(0, list(header), list(cells)).fields
    assert fields is not None
    try:
        return validate_record(fields)
    except RecordRejected as exc:
        return [(p.field, p.reason) for p in exc.problems]


@pytest.mark.slow
@settings(max_examples=60)
@given(EDITS)
def test_chunk_validation_is_the_per_record_validation(edits: list[tuple[int, str, str]]) -> None:
    rows = [dict(row) for row in BASE]
    for index, name, value in edits:
        rows[index][name] = value
    header_line, body = _text(rows)
    header = next(csv.reader([header_line]))
    chunk = read_csv(header_line, header, body)
    validated = validate(chunk.cells, chunk.rows)
    got: dict[int, object] = {}
    for values in validated.frame.iter_rows(named=True):
        number = values.pop(ROW)
        got[number] = {k: v for k, v in values.items() if v is not None}
    for refusal in validated.refused:
        problems = got.setdefault(refusal.row_number, [])
        assert isinstance(problems, list)
        problems.append((refusal.field, refusal.reason))
    assert sorted(got.items()) == _reference(header, body)
