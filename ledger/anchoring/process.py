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
from dataclasses import dataclass, field
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


#: What :meth:`Results.to_wire` sends between processes: few, large objects
#: (pickle memoises every object it writes, so a million small ones cost more).
Wire = tuple[bytes, list[str], bytes, bytes, bytes, list[tuple[int, str, str]], int]


@dataclass(slots=True)
class Results:
    """The results of consecutive rows, in file order, as columns.

    ``rows``, ``record_ids``, ``leaf_hashes`` and ``canonicals`` describe the
    accepted records; ``refused`` holds the problems of refused rows, in row
    order; ``last_row`` is the last row covered (accepted or refused).
    """

    rows: list[int] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    leaf_hashes: list[bytes] = field(default_factory=list)
    canonicals: list[bytes] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    last_row: int = 0

    def __len__(self) -> int:
        """The number of accepted records."""
        return len(self.rows)

    def add(self, result: Accepted | list[Refused]) -> None:
        """Append the result of the next row."""
        if isinstance(result, Accepted):
            self.rows.append(result.row_number)
            self.record_ids.append(result.record_id)
            self.leaf_hashes.append(result.leaf_hash)
            self.canonicals.append(result.canonical)
            self.last_row = result.row_number
        elif result:
            self.refused.extend(result)
            self.last_row = result[-1].row_number

    def extend(self, other: Results) -> None:
        """Append ``other``, whose rows all come after these."""
        self.rows += other.rows
        self.record_ids += other.record_ids
        self.leaf_hashes += other.leaf_hashes
        self.canonicals += other.canonicals
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
        return Results(
            self.rows[start:stop],
            self.record_ids[start:stop],
            self.leaf_hashes[start:stop],
            self.canonicals[start:stop],
            refused,
            last_row,
        )

    def to_wire(self) -> Wire:
        """A compact, picklable form: the bytes columns joined, numbers as machine arrays."""
        lengths = array("q", map(len, self.canonicals))
        refused = [(r.row_number, r.field, r.reason) for r in self.refused]
        return (
            array("q", self.rows).tobytes(),
            self.record_ids,
            b"".join(self.leaf_hashes),
            b"".join(self.canonicals),
            lengths.tobytes(),
            refused,
            self.last_row,
        )

    @classmethod
    def from_wire(cls, wire: Wire, offset: int = 0) -> Results:
        """The results :meth:`to_wire` encoded, with every row number moved by ``offset``."""
        rows_raw, record_ids, hashes, blob, lengths_raw, refused, last_row = wire
        rows, lengths = array("q"), array("q")
        rows.frombytes(rows_raw)
        lengths.frombytes(lengths_raw)
        ends = list(accumulate(lengths))
        starts = [0, *ends[:-1]] if ends else []
        return cls(
            [r + offset for r in rows] if offset else rows.tolist(),
            record_ids,
            [hashes[i : i + _HASH_BYTES] for i in range(0, len(hashes), _HASH_BYTES)],
            [blob[a:b] for a, b in zip(starts, ends, strict=True)],
            [Refused(row + offset, name, reason) for row, name, reason in refused],
            last_row + offset if last_row else 0,
        )


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
