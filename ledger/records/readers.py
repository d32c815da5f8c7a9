"""Streaming CSV / JSONL readers (and writers) for raw records.

:func:`read_rows` yields one :class:`RawRow` per data row and never holds more
than one line in memory. A row that cannot be parsed (bad JSON, not an object,
wrong column count, bytes that are not UTF-8, a line over ``MAX_LINE_CHARS``)
comes back with ``error`` set and ``fields`` None, and reading goes on.

Format: ``.csv`` is CSV, ``.jsonl`` / ``.ndjson`` is JSON Lines; any other name
is JSONL when its first non-blank character is ``{``, else CSV. Encoding is
UTF-8 with or without a BOM. Row numbers are 1-based: for CSV the data row
(header excluded), for JSONL the line (blank lines are skipped but counted).

A file's bytes may also be held in memory (:class:`RecordBytes`: an API
request's rows); they are read exactly as the file would be, and the raw
personal values in them never touch the disk.

In CSV an empty (or blank) cell means the field is absent, and the two list
fields are written ``funders = ORGCODE:6000|ORGCODE2:4000`` and
``consent_ids = c1|c2``. Errors quote positions and column counts, never cells.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Final, NamedTuple, Protocol, TextIO, TypeAlias, TypeVar

from ledger import jsontext
from ledger.errors import InputError
from ledger.records._breakage import INJECTED_FIELDS
from ledger.records.schema import FIELD_NAMES, FIELDS

MAX_LINE_CHARS: Final = 1 << 20  # 1 MiB: a record is ~1 KB; longer lines are rejected, not read
LIST_SEPARATOR: Final = "|"
SHARE_SEPARATOR: Final = ":"
_JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson"})
#: List fields a CSV cell holds as JSON text (their entries are objects of several keys).
JSON_CELLS: Final = frozenset({"special_transactions", "related_parties"})
_REQUIRED_COLUMNS: Final = frozenset(f.name for f in FIELDS if f.required)
_SURROGATE = re.compile("[\udc80-\udcff]").search  # bytes that were not UTF-8
_Row = TypeVar("_Row")


class RawRow(NamedTuple):
    """One data row as read: its fields, or why it could not be parsed."""

    row_number: int
    fields: dict[str, object] | None
    error: str | None


class CsvCells(NamedTuple):
    """A well-formed CSV data row, not yet turned into fields (see :func:`csv_cells_from_text`)."""

    row_number: int
    header: list[str]
    cells: list[str]

    def raw_row(self) -> RawRow:
        """The row exactly as :func:`read_rows` gives it."""
        return csv_row(self.row_number, self.header, self.cells)


class ReaderError(InputError):
    """The file as a whole cannot be read (missing, or a CSV header that is unusable)."""

    code = "unreadable-records"


@dataclass(frozen=True, slots=True)
class RecordBytes:
    """A records file's bytes held in memory, read as the file ``name`` would be.

    For rows that must not rest on disk (an API request's raw rows): a server
    killed mid-request leaves nothing behind. Raw rows: its repr shows the name only.
    """

    name: str
    data: bytes = field(repr=False)


#: Where records are read from: a file, or a file's bytes in memory.
RecordSource: TypeAlias = Path | RecordBytes


def read_rows(source: RecordSource) -> Iterator[RawRow]:
    """Stream the rows of a CSV or JSONL file; bad rows are reported and skipped over."""
    handle, jsonl = open_records(source)
    with handle:
        yield from _jsonl_rows(handle) if jsonl else _csv_rows(handle, csv_row)


def open_bytes(source: RecordSource) -> io.BytesIO | io.BufferedReader:
    """The records' bytes, opened for reading (from memory: no copy is made)."""
    if isinstance(source, RecordBytes):
        return io.BytesIO(source.data)
    try:
        return source.open("rb")
    except OSError as exc:
        raise ReaderError(f"cannot open {source}: {exc.strerror}") from None


def open_records(source: RecordSource) -> tuple[TextIO, bool]:
    """The records opened for reading as text, and whether they are JSON Lines."""
    # surrogateescape: undecodable bytes survive as lone surrogates, so a
    # bad line is reported by number instead of ending the whole file.
    handle = io.TextIOWrapper(
        open_bytes(source), encoding="utf-8-sig", errors="surrogateescape", newline=""
    )
    return handle, _is_jsonl(PurePath(source.name), handle)


def rows_from_text(text: str, *, jsonl: bool) -> Iterator[RawRow]:
    """Rows of an in-memory piece of a file (CSV: its header line first), numbered from 1.

    For processing a file in chunks of whole records: the same parsing, and the
    same refusals, as :func:`read_rows`.
    """
    handle = io.StringIO(text, newline="")
    return _jsonl_rows(handle) if jsonl else _csv_rows(handle, csv_row)


def csv_cells_from_text(text: str) -> Iterator[RawRow | CsvCells]:
    """Like :func:`rows_from_text` for CSV, but rows come as their cells when they have
    as many as the header: a validator can take those faster than a dict of fields.
    Rows that cannot be parsed come as the same :class:`RawRow` as ever.
    """
    # Bytes that were not UTF-8 anywhere in the text: every row takes the usual path.
    make = csv_row if _not_utf8(text) else _cells_or_row
    return _csv_rows(io.StringIO(text, newline=""), make)


def csv_header(line: str) -> list[str] | None:
    """The column names of a CSV header line, as the reader takes them; None if it refuses it."""
    try:
        return _header(csv.reader([line], strict=True))
    except ReaderError:
        return None


def _cells_or_row(number: int, header: list[str], cells: list[str]) -> RawRow | CsvCells:
    if len(cells) != len(header):
        return csv_row(number, header, cells)
    return CsvCells(number, header, cells)


class LineSource(Protocol):
    """Anything text can be read from line by line (a text file, or a stand-in for one)."""

    def readline(self, size: int = -1, /) -> str: ...


def bounded_lines(handle: LineSource) -> Iterator[tuple[str, bool]]:
    """Lines of at most MAX_LINE_CHARS, each with a flag: False if it was cut short."""
    return _lines(handle)


def _is_jsonl(path: PurePath, handle: TextIO) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".csv" or suffix in _JSONL_SUFFIXES:
        return suffix in _JSONL_SUFFIXES
    start = handle.tell()
    first = ""
    while chunk := handle.read(4096):
        if first := chunk.lstrip()[:1]:
            break
    handle.seek(start)
    return first == "{"


def _lines(handle: LineSource) -> Iterator[tuple[str, bool]]:
    """Lines of at most MAX_LINE_CHARS, each with a flag: False if it was cut short."""
    while line := handle.readline(MAX_LINE_CHARS):
        if len(line) == MAX_LINE_CHARS and not line.endswith("\n"):
            while (rest := handle.readline(MAX_LINE_CHARS)) and not rest.endswith("\n"):
                pass
            yield "", False
        else:
            yield line, True


def _not_utf8(text: str) -> bool:
    return not text.isascii() and _SURROGATE(text) is not None


def _jsonl_rows(handle: TextIO) -> Iterator[RawRow]:
    for number, (line, whole) in enumerate(_lines(handle), 1):
        if not whole:
            yield RawRow(number, None, f"line is longer than {MAX_LINE_CHARS} characters")
        elif line.strip():
            yield _json_row(number, line)


def _json_row(number: int, line: str) -> RawRow:
    if _not_utf8(line):
        return RawRow(number, None, "line is not valid UTF-8")
    try:
        value = jsontext.loads(line, object_pairs_hook=_unique_keys)
    except jsontext.JsonTooDeepError:
        return RawRow(number, None, "JSON is nested too deeply")
    except json.JSONDecodeError as exc:
        return RawRow(number, None, f"not valid JSON ({exc.msg} at column {exc.colno})")
    except ValueError:  # e.g. an integer beyond Python's digit limit
        return RawRow(number, None, "JSON number is too large")
    except _DuplicateKeyError:
        return RawRow(number, None, "JSON object has a duplicate key")
    if not isinstance(value, dict):
        return RawRow(number, None, "line is not a JSON object")
    return RawRow(number, value, None)


class _DuplicateKeyError(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKeyError
    return result


def _csv_rows(
    handle: TextIO, make: Callable[[int, list[str], list[str]], _Row]
) -> Iterator[RawRow | _Row]:
    cut: list[bool] = []  # one entry per over-long line replaced by a blank line

    def lines() -> Iterator[str]:
        for line, whole in _lines(handle):
            if not whole:
                cut.append(True)
            yield line if whole else "\n"

    reader = csv.reader(lines(), strict=True)
    header = _header(reader)
    number = 0
    while header is not None:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            yield RawRow(number, None, f"malformed CSV ({_csv_reason(exc)})")
            continue
        if cut:
            cut.clear()
            number += 1
            yield RawRow(number, None, f"line is longer than {MAX_LINE_CHARS} characters")
        elif cells:  # a blank line is not a data row
            number += 1
            yield make(number, header, cells)


def _header(reader: Iterator[list[str]]) -> list[str] | None:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return None
    except csv.Error:
        raise ReaderError("the CSV header row is malformed") from None
    if len(set(header)) != len(header) or "" in header:
        raise ReaderError("the CSV header has an empty or repeated column name")
    if any(_not_utf8(name) for name in header):
        raise ReaderError("the CSV header is not valid UTF-8; is this a CSV file?")
    if not _REQUIRED_COLUMNS.intersection(header):
        raise ReaderError(
            "the first row names none of the credit-account-report columns",
            hint="the file needs a header row such as report_id,reporter_org_code,period,...",
        )
    return header


def _csv_reason(exc: csv.Error) -> str:
    return str(exc).split(":")[0][:80]  # the csv module's words, never the cell


def csv_row(number: int, header: list[str], cells: list[str]) -> RawRow:
    if len(cells) != len(header):
        return RawRow(number, None, f"expected {len(header)} columns, found {len(cells)}")
    if _not_utf8("".join(cells)):
        return RawRow(number, None, "row is not valid UTF-8")
    fields: dict[str, object] = {}
    for name, cell in zip(header, cells, strict=True):
        if cell and not cell.isspace():
            fields[name] = csv_value(name, cell)
    return RawRow(number, fields, None)


def csv_value(name: str, cell: str) -> object:
    """The field value a non-blank CSV cell stands for (lists for the two list fields)."""
    if name in JSON_CELLS:
        try:
            return jsontext.loads(cell)  # its nesting bounded: a cell is up to a line long
        except ValueError:  # not JSON, nested too deeply, or a number beyond the digit limit
            return cell  # the field's check refuses it: not a list
    if name == "consent_ids":
        return cell.split(LIST_SEPARATOR)
    if name == "funders":
        funders: list[object] = []
        for entry in cell.split(LIST_SEPARATOR):
            org, found, share = entry.partition(SHARE_SEPARATOR)
            funders.append({"org_code": org, "share_bp": share} if found else {"org_code": org})
        return funders
    return cell


def write_jsonl(rows: Iterable[Mapping[str, object]], path: Path) -> int:
    """Write rows as JSON Lines (UTF-8, Chinese unescaped); returns the number written."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def write_csv(
    rows: Iterable[Mapping[str, object]],
    path: Path,
    *,
    extra_fields: Sequence[str] = INJECTED_FIELDS,
) -> int:
    """Write rows as CSV with the schema's columns plus ``extra_fields``; returns the count.

    The default extra columns are the two fields a broken synthetic row may carry
    (empty, hence absent, everywhere else), so any :func:`synthetic_rows` output
    fits. Lists use the ``|`` / ``:`` forms above; None becomes an empty cell. A
    field outside the columns is an error rather than silently dropped.
    """
    columns = [*FIELD_NAMES, *extra_fields]
    count = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="raise")
        writer.writeheader()
        for row in rows:
            try:
                writer.writerow({name: csv_cell(name, value) for name, value in row.items()})
            except ValueError:
                raise InputError(f"row {count + 1} has fields outside the CSV columns") from None
            count += 1
    return count


def csv_cell(name: str, value: object) -> object:
    """A field value as its CSV cell (the list forms above; JSON text for ``JSON_CELLS``)."""
    if name in JSON_CELLS and isinstance(value, list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, list):
        return LIST_SEPARATOR.join(
            f"{item.get('org_code', '')}{SHARE_SEPARATOR}{item.get('share_bp', '')}"
            if isinstance(item, dict)
            else str(item)
            for item in value
        )
    return "" if value is None else value
