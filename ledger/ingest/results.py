"""The outcome of consecutive rows of a file, as columns: what the stages hand to batching.

:class:`Results` keeps accepted records as columns (row numbers, record ids,
leaf hashes, canonical bytes) rather than one object per row, so batches are
cut and stored with list operations, not per-row Python work.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

_HASH_BYTES = 32
#: The row-number column of :attr:`Results.facts`.
_FACT_ROW = "row"


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


class Results:
    """The results of consecutive rows, in file order, as columns.

    Accepted records: ``rows`` (row numbers), ``record_ids``, ``hashes`` (the
    leaf hashes, 32 bytes each, concatenated), ``blob`` (the canonical records
    concatenated) with ``ends`` (where each record ends in it). ``refused``
    holds the problems of refused rows, in row order; ``last_row`` is the last
    row covered (accepted or refused). Batches are cut and stored from these
    columns without a Python object per record. ``facts``: the risk facts of
    the accepted co-funded records (:func:`ledger.alerts.events.risk_facts`),
    by row number, or None when none were taken.
    """

    __slots__ = ("blob", "ends", "facts", "hashes", "last_row", "record_ids", "refused", "rows")

    def __init__(self, *, last_row: int = 0) -> None:
        self.rows = array("q")
        self.record_ids: list[str] = []
        self.hashes = bytearray()
        self.blob = bytearray()
        self.ends = array("q")
        self.refused: list[Refused] = []
        self.last_row = last_row
        self.facts: pl.DataFrame | None = None

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
        if other.facts is not None:
            self.facts = other.facts if self.facts is None else pl.concat([self.facts, other.facts])

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
        if self.facts is not None and start < stop:
            out.facts = self._facts_between(self.rows[start], self.rows[stop - 1])
        return out

    def _facts_between(self, first: int, last: int) -> pl.DataFrame:
        """The facts of rows ``first`` to ``last``: a slice, facts being in row order."""
        assert self.facts is not None
        rows = self.facts.get_column(_FACT_ROW)
        if not rows.len() or (rows[0] >= first and rows[-1] <= last):
            return self.facts
        start = int(rows.search_sorted(first, "left"))
        return self.facts.slice(start, int(rows.search_sorted(last, "right")) - start)

    def facts_of(self, rows: array[int]) -> pl.DataFrame | None:
        """The facts of these accepted rows only (after some were dropped as duplicates)."""
        if self.facts is None:
            return None
        return self.facts.filter(pl.col(_FACT_ROW).is_in(list(rows)))

    def shifted(self, offset: int) -> Results:
        """These results with every row number moved by ``offset`` (a chunk's place in its file)."""
        if not offset:
            return self
        out = self._slice(0, len(self.rows), [], self.last_row + offset if self.last_row else 0)
        out.rows = array("q", [r + offset for r in self.rows])
        if out.facts is not None:
            out.facts = out.facts.with_columns(pl.col(_FACT_ROW) + offset)
        out.refused = [Refused(r.row_number + offset, r.field, r.reason) for r in self.refused]
        return out
