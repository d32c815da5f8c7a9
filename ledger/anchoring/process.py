"""One raw row in, one salted canonical leaf out (or the reasons it was refused).

This is the per-record hot path of a submission: validate, desensitise, check
for leaks, salt, canonicalise, hash. It holds no store or chain handle, so it
can run in worker processes.

Results travel in :class:`Results`: the outcome of consecutive rows of a file,
kept as columns (row numbers, record ids, leaf hashes, canonical bytes) rather
than one object per row, so the parent that stores them does list operations,
not per-row Python work.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import cast

from ledger.anchoring.fastrows import FastCsv, SlowAnswer
from ledger.privacy import Desensitiser, LeakDetected, LeakGuard, Policy
from ledger.proofs import canonical_bytes, leaf_hash
from ledger.records import CsvFastPath, RecordRejected, personal_values, validate_record
from ledger.records.readers import RawRow, csv_cells_from_text, csv_header, rows_from_text

SALT_BYTES = 32
_HASH_BYTES = 32


@dataclass(frozen=True, slots=True)
class Accepted:
    row_number: int
    record_id: str
    leaf_hash: bytes
    canonical: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    row_number: int
    field: str
    reason: str


#: What :meth:`Results.to_wire` sends between processes (and what the C pass returns):
#: few, large objects — row numbers and canonical-record lengths as int64 arrays, the
#: leaf hashes and the canonical records each concatenated, the record ids, refusals.
Wire = tuple[bytes, list[str], bytes, bytes, bytes, list[tuple[int, str, str]], int]


class Results:
    """The results of consecutive rows, in file order, as columns.

    Accepted records: ``rows`` (row numbers), ``record_ids``, ``hashes`` (the
    leaf hashes, 32 bytes each, concatenated), ``blob`` (the canonical records
    concatenated) with ``ends`` (where each record ends in it). ``refused``
    holds the problems of refused rows, in row order; ``last_row`` is the last
    row covered (accepted or refused). Batches are cut and stored from these
    columns without a Python object per record.
    """

    __slots__ = ("blob", "ends", "hashes", "last_row", "record_ids", "refused", "rows")

    def __init__(self, *, last_row: int = 0) -> None:
        self.rows = array("q")
        self.record_ids: list[str] = []
        self.hashes = bytearray()
        self.blob = bytearray()
        self.ends = array("q")
        self.refused: list[Refused] = []
        self.last_row = last_row

    def __len__(self) -> int:
        """The number of accepted records."""
        return len(self.rows)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Results):
            return NotImplemented
        return (
            list(self.rows) == list(other.rows)
            and self.record_ids == other.record_ids
            and self.hashes == other.hashes
            and self.blob == other.blob
            and list(self.ends) == list(other.ends)
            and self.refused == other.refused
            and self.last_row == other.last_row
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    @property
    def leaf_hashes(self) -> list[bytes]:
        h = bytes(self.hashes)
        return [h[i : i + _HASH_BYTES] for i in range(0, len(h), _HASH_BYTES)]

    @property
    def canonicals(self) -> list[bytes]:
        data = bytes(self.blob)
        return [data[a:b] for a, b in zip(self._starts(), self.ends, strict=True)]

    def _starts(self) -> list[int]:
        return [0, *self.ends[:-1]] if self.ends else []

    def add(self, result: Accepted | list[Refused]) -> None:
        """Append the result of the next row."""
        if isinstance(result, Accepted):
            self.rows.append(result.row_number)
            self.record_ids.append(result.record_id)
            self.hashes += result.leaf_hash
            self.blob += result.canonical
            self.ends.append(len(self.blob))
            self.last_row = result.row_number
        elif result:
            self.refused.extend(result)
            self.last_row = result[-1].row_number

    def extend(self, other: Results) -> None:
        """Append ``other``, whose rows all come after these."""
        base = len(self.blob)
        self.rows += other.rows
        self.record_ids += other.record_ids
        self.hashes += other.hashes
        self.blob += other.blob
        self.ends += array("q", [e + base for e in other.ends]) if base else other.ends
        self.refused += other.refused
        self.last_row = max(self.last_row, other.last_row)

    def accepted(self) -> Iterator[Accepted]:
        return map(Accepted, self.rows, self.record_ids, self.leaf_hashes, self.canonicals)

    def items(self) -> Iterator[Accepted | list[Refused]]:
        """Per-row results, in row order (a refused row's problems together)."""
        refused = iter(self.refused)
        problem = next(refused, None)
        for accepted in self.accepted():
            while problem is not None and problem.row_number < accepted.row_number:
                row, problems = problem.row_number, []
                while problem is not None and problem.row_number == row:
                    problems.append(problem)
                    problem = next(refused, None)
                yield problems
            yield accepted
        while problem is not None:
            row, problems = problem.row_number, []
            while problem is not None and problem.row_number == row:
                problems.append(problem)
                problem = next(refused, None)
            yield problems

    def after(self, row: int) -> Results:
        """Only the results of rows after ``row``."""
        start = bisect_right(self.rows, row)
        if start == 0 and not (self.refused and self.refused[0].row_number <= row):
            return self
        refused = [r for r in self.refused if r.row_number > row]
        return self._slice(start, len(self.rows), refused, max(self.last_row, row))

    def split(self, count: int) -> tuple[Results, Results | None]:
        """The results up to the ``count``-th accepted record, and the rest (None if nothing).

        Refusals of rows after that record go with the rest, exactly as a
        row-by-row reader that stops at that record would leave them.
        """
        if len(self.rows) < count:
            return self, None
        cut = self.rows[count - 1]
        head_refused = [r for r in self.refused if r.row_number < cut]
        tail_refused = self.refused[len(head_refused) :]
        head = self._slice(0, count, head_refused, cut)
        if len(self.rows) == count and not tail_refused:
            return head, None
        return head, self._slice(count, len(self.rows), tail_refused, self.last_row)

    def _slice(self, start: int, stop: int, refused: list[Refused], last_row: int) -> Results:
        out = Results(last_row=last_row)
        out.rows = self.rows[start:stop]
        out.record_ids = self.record_ids[start:stop]
        out.hashes = self.hashes[start * _HASH_BYTES : stop * _HASH_BYTES]
        first = self.ends[start - 1] if start else 0
        last = self.ends[stop - 1] if stop else 0
        out.blob = self.blob[first:last]
        ends = self.ends[start:stop]
        out.ends = array("q", [e - first for e in ends]) if first else ends
        out.refused = refused
        return out

    def to_wire(self) -> Wire:
        """A compact, picklable form: few large objects."""
        lengths = array("q", [b - a for a, b in zip(self._starts(), self.ends, strict=True)])
        refused = [(r.row_number, r.field, r.reason) for r in self.refused]
        return (
            self.rows.tobytes(),
            self.record_ids,
            bytes(self.hashes),
            bytes(self.blob),
            lengths.tobytes(),
            refused,
            self.last_row,
        )

    @classmethod
    def from_wire(cls, wire: Wire, offset: int = 0) -> Results:
        """The results :meth:`to_wire` encoded, with every row number moved by ``offset``."""
        rows_raw, record_ids, hashes, blob, lengths_raw, refused, last_row = wire
        out = cls(last_row=last_row + offset if last_row else 0)
        out.rows.frombytes(rows_raw)
        if offset:
            out.rows = array("q", [r + offset for r in out.rows])
        lengths = array("q")
        lengths.frombytes(lengths_raw)
        out.ends = array("q", accumulate(lengths))
        out.record_ids = record_ids
        out.hashes = bytearray(hashes)
        out.blob = bytearray(blob)
        out.refused = [Refused(row + offset, name, reason) for row, name, reason in refused]
        return out


class RecordProcessor:
    """Validate -> desensitise -> leak guard -> salt -> RFC 8785 -> leaf hash.

    CSV text goes through the compiled fast path (:mod:`ledger.anchoring.fastrows`)
    when it is available; this class is also its reference: rows the fast path
    does not take are processed here, one by one. ``seed`` makes salts a
    function of the row number (tests compare the two paths byte for byte);
    without it every salt is ``os.urandom``.
    """

    def __init__(
        self, policy: Policy, desensitiser: Desensitiser, *, seed: bytes | None = None
    ) -> None:
        self.policy = policy
        self.desensitiser = desensitiser
        self.guard = LeakGuard()
        self.seed = seed
        #: Rows the fast path accepted by itself (the rest went through Python).
        self.native_rows = 0
        self._fast: dict[str, FastCsv | None] = {}
        self._validators: dict[tuple[str, ...], CsvFastPath] = {}

    def salt(self, row_number: int) -> bytes:
        if self.seed is None:
            return os.urandom(SALT_BYTES)
        return hashlib.sha256(self.seed + row_number.to_bytes(8, "big")).digest()

    def process(self, row: RawRow) -> Accepted | list[Refused]:
        if row.fields is None:
            return [Refused(row.row_number, "-", row.error or "unreadable row")]
        try:
            record = validate_record(row.fields)
        except RecordRejected as exc:
            return [Refused(row.row_number, p.field, p.reason) for p in exc.problems]
        return self._finish(row.row_number, record)

    def _finish(self, row_number: int, record: dict[str, object]) -> Accepted | list[Refused]:
        """A validated record's leaf, or the leak guard's refusal."""
        try:
            out = self.desensitiser.apply(record)
            self.guard.check(out, personal_values(record))
        except LeakDetected as exc:
            return [Refused(row_number, exc.field, f"leak guard: output has a {exc.kind}")]
        out["salt"] = "0x" + self.salt(row_number).hex()
        canonical = canonical_bytes(out)
        return Accepted(row_number, str(out["record_id"]), leaf_hash(canonical), canonical)

    def process_many(self, rows: Iterable[RawRow]) -> Results:
        """The results of ``rows``, in their order."""
        results = Results()
        for row in rows:
            results.add(self.process(row))
        return results

    def process_text(self, text: str, *, jsonl: bool) -> Results:
        """The results of the rows of a piece of a file (CSV: its header line first)."""
        if jsonl:
            return self.process_many(rows_from_text(text, jsonl=True))
        header, newline, body = text.partition("\n")
        return Results.from_wire(self.process_csv(header + newline, body))

    def process_csv(self, header: str, body: str) -> Wire:
        """The results of CSV rows ``body`` under the header line ``header``, in wire form."""
        fast = self._fast_path(header)
        if fast is not None:
            try:
                done = fast.process(body, lambda row, line: self._one_row(header, row, line),
                                    seed=self.seed)  # fmt: skip
            except UnicodeEncodeError:  # bytes that were not UTF-8: the reference path
                done = None
            if done is not None:
                *wire, native, rest = done
                self.native_rows += native
                head = cast(Wire, tuple(wire))
                if rest is None:
                    return head
                results = Results.from_wire(head)
                results.extend(self._reference(header + rest, offset=results.last_row))
                return results.to_wire()
        return self._reference(header + body, offset=0).to_wire()

    def _fast_path(self, header: str) -> FastCsv | None:
        if header not in self._fast:
            names = csv_header(header)
            self._fast[header] = None if names is None else FastCsv.build(names, self.desensitiser)
        return self._fast[header]

    def _one_row(self, header: str, row: int, line: str) -> SlowAnswer:
        """The fast path's question about one line: what the reference path makes of it."""
        results = self._reference(header + line, offset=row - 1)
        if results.rows:
            return results.record_ids[0], results.leaf_hashes[0], results.canonicals[0]
        return [(r.field, r.reason) for r in results.refused]

    def _reference(self, text: str, *, offset: int) -> Results:
        """CSV text (its header line first) through Python; rows numbered after ``offset``.

        CSV rows whose cells are all values seen valid before skip the
        field-by-field validation (:class:`~ledger.records.CsvFastPath`).
        """
        results = Results()
        for item in csv_cells_from_text(text):
            row = item.row_number + offset
            if isinstance(item, RawRow):
                results.add(self.process(item._replace(row_number=row)))
                continue
            key = tuple(item.header)
            if (fast := self._validators.get(key)) is None:
                fast = self._validators[key] = CsvFastPath(item.header)
            record = fast.validate(item.cells)
            if record is None:
                results.add(self.process(item.raw_row()._replace(row_number=row)))
            else:
                results.add(self._finish(row, record))
        return results
