"""Stage 1, read: a piece of a records file becomes a :class:`Chunk` of rows, numbered from 1.

CSV text is parsed by polars' CSV reader straight into one string column per
header name, when the text is *plain*: no quote character, no carriage return
outside CRLF line ends, no blank line, no leading BOM, valid UTF-8, and as many
commas as every line having one fewer than the header has columns. For such
text every CSV reader splits alike, and polars refuses a line with too many
cells (so, the count being right, any line with too few is found too). Any
other text (quoted cells, a stray quote, a wrong column count, bytes that were
not UTF-8, an over-long line) is read by the row reader of
:mod:`ledger.records.readers`, row by row, which is what names a malformed
row's problem; its well-formed rows join the same columns.

JSON Lines text is parsed line by line (:func:`~ledger.records.readers.rows_from_text`):
its values keep their JSON types for the field checks.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final, TextIO

import polars as pl

from ledger.records.frame import ROW
from ledger.records.readers import (
    MAX_LINE_CHARS,
    CsvCells,
    LineSource,
    RawRow,
    bounded_lines,
    csv_cells_from_text,
    rows_from_text,
)

_BLANK_LINES: Final = ("\n\n", "\r\n\r\n")
#: Characters read at a time from a CSV file. Below MAX_LINE_CHARS / 2, so a block
#: without a newline flags any line that could be too long.
BLOCK_CHARS = 1 << 18
#: A CSV chunk is at least this long (or the rest of the file): large enough that the
#: per-column work of a chunk is small beside its rows (~11,000 of them).
CHUNK_CHARS = 1 << 22
#: A CSV chunk whose quotes never balance (a stray quote) is cut here anyway: the
#: csv reader gave up on that field long before (its field limit is 128 Ki characters).
MAX_CHUNK_CHARS = 16 * MAX_LINE_CHARS
#: Lines per JSON Lines chunk.
JSONL_CHUNK_LINES = 4_000


@dataclass(slots=True)
class Chunk:
    """The rows of one piece of a file: CSV cells as columns, other rows one by one."""

    #: Rows in the piece (blank CSV lines are not rows; blank JSON lines are counted).
    last_row: int
    #: CSV rows with as many cells as the header: one string column per header name
    #: (null for an empty cell) and ``row``.
    cells: pl.DataFrame | None = None
    #: Rows as :class:`RawRow`: JSON Lines rows, and CSV rows that could not be read.
    rows: list[RawRow] = field(default_factory=list)


def read_csv(header_line: str, header: list[str], text: str) -> Chunk:
    """The rows of CSV ``text`` (data lines only) under ``header``."""
    data = _plain_bytes(text, len(header))
    if data is not None:
        try:
            frame = pl.read_csv(
                data,
                has_header=False,
                new_columns=header,
                schema={name: pl.String for name in header},
                quote_char=None,
            )
        except pl.exceptions.PolarsError:
            # A line with too many cells (then, the comma count being right, another
            # has too few): the row reader names them.
            return _read_row_by_row(header_line, header, text)
        frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
        return Chunk(last_row=frame.height, cells=frame)
    return _read_row_by_row(header_line, header, text)


def read_jsonl(text: str, lines: int) -> Chunk:
    """The rows of JSON Lines ``text`` of ``lines`` lines."""
    return Chunk(last_row=lines, rows=list(rows_from_text(text, jsonl=True)))


def _plain_bytes(text: str, columns: int) -> bytes | None:
    """``text`` as UTF-8 if it is plain (see the module docstring), else None."""
    if not text or '"' in text or text.startswith(("\n", "\r\n", "\ufeff")):
        return None
    if text.count("\r") != text.count("\r\n") or any(b in text for b in _BLANK_LINES):
        return None
    lines = text.count("\n") + (not text.endswith("\n"))
    if text.count(",") != (columns - 1) * lines:
        return None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8
        return None


def _read_row_by_row(header_line: str, header: list[str], text: str) -> Chunk:
    cells: list[list[str]] = []
    numbers: list[int] = []
    chunk = Chunk(last_row=0)
    for item in csv_cells_from_text(header_line + text):
        chunk.last_row = item.row_number
        if isinstance(item, CsvCells):
            numbers.append(item.row_number)
            cells.append(item.cells)
        else:
            chunk.rows.append(item)
    if cells:
        columns = {name: [row[i] or None for row in cells] for i, name in enumerate(header)}
        chunk.cells = pl.DataFrame(
            {**columns, ROW: numbers}, schema={**dict.fromkeys(header, pl.String), ROW: pl.Int64}
        ).select(*header, ROW)
    return chunk


def csv_chunks(handle: TextIO) -> Iterator[str]:
    """The data lines of a CSV file (header already read) in chunks of whole records,
    each at least ``CHUNK_CHARS`` long but the last."""
    pieces: list[str] = []
    size = 0
    for piece in _csv_pieces(handle):
        pieces.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(pieces)
            pieces, size = [], 0
    if pieces:
        yield "".join(pieces)


def _csv_pieces(handle: TextIO) -> Iterator[str]:
    """The data lines of a CSV file (header already read) in chunks of whole records.

    Reads ``BLOCK_CHARS`` at a time and cuts after the last newline at which the
    quote count is even. A block without any newline may hold an over-long
    line: from there on, lines are read one by one (:func:`_line_chunks`), which
    marks such a line exactly as the row reader does.
    """
    carry = ""
    while block := handle.read(BLOCK_CHARS):
        if "\n" not in block:
            yield from _line_chunks(_Rest(carry + block, handle), BLOCK_CHARS)
            return
        text = carry + block
        last = text.rfind("\n") + 1
        cut = _record_end(text, last)
        if cut == 0 and len(text) > MAX_CHUNK_CHARS:
            cut = last
        carry = text[cut:]
        if cut:
            yield text[:cut]
    if carry:
        yield carry


def _record_end(text: str, cut: int) -> int:
    """``cut`` if the quotes before it are balanced, else the last line end where they are."""
    if text.count('"', 0, cut) % 2 == 0:
        return cut
    end, at, open_quote = 0, 0, False
    while (nl := text.find("\n", at, cut)) >= 0:
        open_quote ^= text.count('"', at, nl) % 2 == 1
        at = nl + 1
        if not open_quote:
            end = at
    return end


class _Rest:
    """Text already read, then the rest of a file: for reading on line by line."""

    def __init__(self, head: str, handle: TextIO) -> None:
        self._head = io.StringIO(head, newline="")
        self._handle = handle

    def readline(self, size: int = -1, /) -> str:
        limit = size
        line = self._head.readline(limit)
        if line and (line[-1] in "\r\n" or len(line) == limit):
            return line
        more = self._handle.readline(limit - len(line) if limit >= 0 else -1)
        return line + more


def _line_chunks(handle: LineSource, chars: int) -> Iterator[str]:
    """Chunks of about ``chars`` characters, line by line; over-long lines stay over-long."""
    lines: list[str] = []
    size, open_quote = 0, False
    for line, whole in bounded_lines(handle):
        # An over-long line reaches the worker as one the reader also refuses.
        line = line if whole else "x" * MAX_LINE_CHARS + "\n"
        lines.append(line)
        size += len(line)
        if line.count('"') % 2:
            open_quote = not open_quote
        if size >= chars and not open_quote:
            yield "".join(lines)
            lines, size = [], 0
    if lines:
        yield "".join(lines)


def jsonl_chunks(handle: TextIO) -> Iterator[tuple[str, int]]:
    """The lines of a JSON Lines file in chunks: (text, number of lines)."""
    lines: list[str] = []
    for line, whole in bounded_lines(handle):
        # An over-long line reaches the row reader as one it also refuses.
        lines.append(line if whole else "x" * MAX_LINE_CHARS + "\n")
        if len(lines) >= JSONL_CHUNK_LINES:
            yield "".join(lines), len(lines)
            lines = []
    if lines:
        yield "".join(lines), len(lines)
