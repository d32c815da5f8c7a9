"""CSV and JSONL readers: formats, encodings, bad lines, laziness and bounded memory."""

from __future__ import annotations

import itertools
import json
import tracemalloc
from pathlib import Path

import pytest

from ledger.records import (
    RawRow,
    ReaderError,
    RecordRejected,
    read_rows,
    synthetic_rows,
    validate_records,
)
from ledger.records import readers as readers_module
from ledger.records.generate import INJECTED_FIELDS
from ledger.records.readers import RecordBytes, write_csv, write_jsonl
from tests.records.sample import ID_NUMBER, NAME, ORG, ORG2, valid_row

HEADER = "report_id,subject_name,funders,consent_ids,principal\n"


def write(path: Path, text: str, *, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.mark.parametrize("name", ["rows.csv", "rows.jsonl", "upload.txt"])
def test_bytes_held_in_memory_read_as_their_file_would(tmp_path: Path, name: str) -> None:
    """An API request's rows are read from memory, never from disk: the same rows, the same
    refusals (bad JSON, bytes that are not UTF-8) and the same format guess as the file."""
    path = tmp_path / name
    (write_csv if name.endswith(".csv") else write_jsonl)(synthetic_rows(20, seed=9), path)
    data = b"\xef\xbb\xbf" + path.read_bytes() + b'{"report_id": "\xff"}\nnot json\n'
    path.write_bytes(data)
    from_file = list(read_rows(path))
    assert len(from_file) == 22 and from_file[-1].error is not None
    assert list(read_rows(RecordBytes(name, data))) == from_file


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_written_rows_read_back_to_the_same_records(tmp_path: Path, suffix: str) -> None:
    rows = list(synthetic_rows(300, seed=8))
    path = tmp_path / f"rows{suffix}"
    (write_csv if suffix == ".csv" else write_jsonl)(rows, path)
    read = list(read_rows(path))
    assert [r.row_number for r in read] == list(range(1, 301))
    assert all(r.error is None for r in read)
    # validate_records: validate_record of each row, the rules run once for all rows
    assert validate_records([r.fields or {} for r in read]) == validate_records(rows)


@pytest.mark.parametrize("bom", [False, True])
def test_csv_with_or_without_bom_and_chinese_text(tmp_path: Path, bom: bool) -> None:
    text = HEADER + f"R1,{NAME},{ORG}:6000|{ORG2}:4000,c1|c2,100.5\nR2,李四,,, \n"
    rows = list(read_rows(write(tmp_path / "a.csv", text, bom=bom)))
    assert rows[0] == RawRow(
        1,
        {
            "report_id": "R1",
            "subject_name": NAME,
            "funders": [
                {"org_code": ORG, "share_bp": "6000"},
                {"org_code": ORG2, "share_bp": "4000"},
            ],
            "consent_ids": ["c1", "c2"],
            "principal": "100.5",
        },
        None,
    )
    assert rows[1] == RawRow(2, {"report_id": "R2", "subject_name": "李四"}, None)  # empty = absent


@pytest.mark.parametrize("bom", [False, True])
def test_jsonl_with_or_without_bom(tmp_path: Path, bom: bool) -> None:
    text = json.dumps(valid_row(), ensure_ascii=False) + "\n\n" + '{"report_id": "R2"}\n'
    rows = list(read_rows(write(tmp_path / "a.ndjson", text, bom=bom)))
    assert [r.row_number for r in rows] == [1, 3]  # line numbers; the blank line is skipped
    assert rows[0].fields == valid_row()


def test_jsonl_bad_lines_are_reported_and_reading_continues(tmp_path: Path) -> None:
    lines = [
        '{"report_id": "R1"}',
        f'{{"subject_id_number": "{ID_NUMBER}", oops}}',
        "[1, 2]",
        '{"a": 1, "a": 2}',
        '{"n": ' + "9" * 5000 + "}",
        '{"report_id": "R6"}',
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes("\n".join(lines).encode() + b'\n{"name": "\xff\xfe"}\n{"report_id": "R8"}\n')
    rows = list(read_rows(path))
    assert [(r.row_number, r.fields is None) for r in rows] == [
        (1, False), (2, True), (3, True), (4, True), (5, True), (6, False), (7, True), (8, False),
    ]  # fmt: skip
    errors = [r.error for r in rows]
    assert errors[1] is not None and errors[1].startswith("not valid JSON")
    assert errors[2:5] == [
        "line is not a JSON object",
        "JSON object has a duplicate key",
        "JSON number is too large",
    ]
    assert errors[6] == "line is not valid UTF-8"
    assert ID_NUMBER not in " ".join(e or "" for e in errors)


def test_csv_bad_rows_are_reported_and_reading_continues(tmp_path: Path) -> None:
    text = HEADER + "R1,a,,,1\nR2,b,,\n\nR3,c,,,1,extra\nR4,d,,,1\n"
    path = write(tmp_path / "bad.csv", text)
    with path.open("ab") as out:
        out.write(b"R5,\xff,,,1\nR6,e,,,1\n")
    rows = list(read_rows(path))
    assert [(r.row_number, r.error) for r in rows] == [
        (1, None),
        (2, "expected 5 columns, found 4"),
        (3, "expected 5 columns, found 6"),
        (4, None),
        (5, "row is not valid UTF-8"),
        (6, None),
    ]


def test_over_long_lines_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers_module, "MAX_LINE_CHARS", 64)
    long_json = '{"report_id": "' + "R" * 200 + '"}'
    path = write(
        tmp_path / "a.jsonl", f'{{"report_id": "R1"}}\n{long_json}\n{{"report_id": "R3"}}\n'
    )
    assert [(r.row_number, r.error) for r in read_rows(path)] == [
        (1, None),
        (2, "line is longer than 64 characters"),
        (3, None),
    ]
    csv_path = write(tmp_path / "a.csv", "report_id\nR1\n" + "R" * 200 + "\nR3\n")
    rows = list(read_rows(csv_path))
    assert [(r.row_number, r.error) for r in rows] == [
        (1, None),
        (2, "line is longer than 64 characters"),
        (3, None),
    ]


@pytest.mark.parametrize(
    ("text", "line"), [('\n  {"report_id": "R1"}\n', 2), ("report_id\nR1\n", 1)]
)
def test_format_is_sniffed_when_the_extension_says_nothing(
    tmp_path: Path, text: str, line: int
) -> None:
    rows = list(read_rows(write(tmp_path / "upload.txt", text, bom=True)))
    assert rows == [RawRow(line, {"report_id": "R1"}, None)]


def test_unreadable_files_raise_reader_errors(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match="cannot open"):
        list(read_rows(tmp_path / "missing.csv"))
    with pytest.raises(ReaderError, match="repeated column"):
        list(read_rows(write(tmp_path / "dup.csv", "a,a\n1,2\n")))
    assert list(read_rows(write(tmp_path / "empty.csv", ""))) == []


def test_reading_is_lazy(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    write_jsonl(synthetic_rows(2000, seed=1), path)
    rows = read_rows(path)
    first = next(rows)
    path.write_text("")  # the rest is gone: a lazy reader has only read a buffer's worth
    assert first.row_number == 1
    assert sum(1 for _ in rows) < 100


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_memory_stays_bounded_while_streaming(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"big{suffix}"
    (write_csv if suffix == ".csv" else write_jsonl)(synthetic_rows(8000, seed=2), path)
    assert path.stat().st_size > 1_500_000
    tracemalloc.start()
    try:
        count = sum(1 for row in read_rows(path) if row.fields)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 8000
    assert peak < 300_000  # bytes: a few rows at a time, not the 1.5+ MB file


def test_write_csv_refuses_fields_outside_its_columns(tmp_path: Path) -> None:
    rows = list(synthetic_rows(200, seed=3, invalid_ratio=1.0))
    with pytest.raises(ValueError, match="outside the CSV columns"):
        write_csv(rows, tmp_path / "a.csv", extra_fields=())
    assert write_csv(rows, tmp_path / "b.csv") == 200
    header = (tmp_path / "b.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.endswith("," + ",".join(INJECTED_FIELDS))
    read = list(itertools.islice(read_rows(tmp_path / "b.csv"), 200))
    assert all(r.fields is not None for r in read)


def test_broken_rows_stay_broken_through_csv(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    write_csv(synthetic_rows(600, seed=5, invalid_ratio=1.0), path)
    read = list(read_rows(path))
    assert len(read) == 600 and all(row.fields is not None for row in read)
    outcomes = validate_records([row.fields or {} for row in read])  # validate_record of each
    assert all(isinstance(outcome, RecordRejected) for outcome in outcomes)


@pytest.mark.parametrize("name", sorted(readers_module.JSON_CELLS))
def test_a_json_cell_nested_too_deeply_is_left_for_its_check_to_refuse(name: str) -> None:
    """Parsed with its nesting bounded: web3 raises the recursion limit, and Python's
    json would overflow the C stack on this cell (the process dies) instead of raising."""
    deep = "[" * 300_000 + "]" * 300_000
    assert readers_module.csv_value(name, deep) == deep  # not a list: its check refuses it
    assert readers_module.csv_value(name, '[{"role": "1"}]') == [{"role": "1"}]
