"""Reading a CSV chunk gives the rows the row reader gives, whichever reader runs.

Plain text goes to polars' CSV reader, other text to the row reader; on random
and adversarial text (quotes, line breaks in cells, wrong column counts, CR,
blank lines, BOMs, non-ASCII, bytes that were not UTF-8) both must agree with
the row reader, row for row.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger.ingest.read import _plain_bytes, read_csv
from ledger.records.frame import ROW
from ledger.records.readers import CsvCells, csv_cells_from_text

HEADER = ["report_id", "period", "account_id"]
HEADER_LINE = ",".join(HEADER) + "\n"
CELL = st.text(
    st.one_of(
        st.sampled_from([*'",\r\n \t\ufeff\x00中é', "\udc80"]),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(list("abc019-")),
    ),
    max_size=6,
)
LINE = st.lists(CELL, min_size=0, max_size=5).map(",".join)
ENDING = st.sampled_from(["\n", "\r\n", "\n\n", ""])
TEXT = st.lists(st.tuples(LINE, ENDING), min_size=1, max_size=12).map(
    lambda lines: "".join(line + end for line, end in lines)
)


def _as_read(text: str) -> list[tuple[int, object]]:
    chunk = read_csv(HEADER_LINE, HEADER, text)
    rows: list[tuple[int, object]] = []
    if chunk.cells is not None:
        for values in chunk.cells.iter_rows(named=True):
            rows.append((values[ROW], [values[name] or "" for name in HEADER]))
    rows += [(row.row_number, row.fields or row.error) for row in chunk.rows]
    return sorted(rows, key=lambda item: item[0])


def _by_row_reader(text: str) -> list[tuple[int, object]]:
    rows: list[tuple[int, object]] = []
    for item in csv_cells_from_text(HEADER_LINE + text):
        if isinstance(item, CsvCells):
            rows.append((item.row_number, item.cells))
        else:
            rows.append((item.row_number, item.fields or item.error))
    return rows


@given(TEXT)
def test_a_chunk_reads_as_the_row_reader_reads_it(text: str) -> None:
    assert _as_read(text) == _by_row_reader(text)


@given(st.lists(st.lists(st.sampled_from(["a", "12", "中文", " x ", ""]), min_size=3, max_size=3)))
def test_plain_text_goes_to_polars_and_reads_the_same(rows: list[list[str]]) -> None:
    text = "".join(",".join(cells) + "\n" for cells in rows if any(cells))
    if text:
        assert _plain_bytes(text, len(HEADER)) is not None
    assert _as_read(text) == _by_row_reader(text)


def test_what_makes_text_not_plain() -> None:
    for text in ['a,"b",c\n', "a,b\n", "a,b,c\r\n\r\n", "a,b,c\rd,e,f\n", "\ufeffa,b,c\n",
                 "a,b,c\n\nd,e,f\n", "a,b,\udc80\n"]:  # fmt: skip
        assert _plain_bytes(text, len(HEADER)) is None, text


def test_too_many_cells_on_one_line_and_too_few_on_another_are_both_found() -> None:
    for text in ["a,b,c,d,e\nx\n", "a,b,c\nd\ne,f,g,h,i\n"]:
        assert _plain_bytes(text, len(HEADER)) is not None  # the commas add up
        assert _as_read(text) == _by_row_reader(text)
        assert any(isinstance(cells, str) for _, cells in _as_read(text))
