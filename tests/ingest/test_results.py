"""Columnar results: batches, skipped rows and the CSV fast path match a row-by-row reading."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.ingest.results import Accepted, Refused, Results
from tests.conftest import WAIT_SECONDS

# Per row: accepted (True) or refused with 1-2 problems (False).
_OUTCOMES = st.lists(st.tuples(st.booleans(), st.integers(1, 2)), max_size=40)


def _per_row(outcomes: list[tuple[bool, int]]) -> list[Accepted | list[Refused]]:
    items: list[Accepted | list[Refused]] = []
    for row, (ok, problems) in enumerate(outcomes, 1):
        if ok:
            items.append(Accepted(row, f"id-{row}", bytes([row]) * 32, b'{"r":%d}' % row))
        else:
            items.append([Refused(row, f"f{i}", "bad") for i in range(problems)])
    return items


def _results(items: list[Accepted | list[Refused]]) -> Results:
    results = Results()
    for item in items:
        results.add(item)
    return results


def _batches_row_by_row(items: list[Accepted | list[Refused]], size: int) -> list[list[object]]:
    """The batches the former row-by-row loop made: flush right after the size-th record."""
    batches: list[list[object]] = [[]]
    accepted = 0
    for item in items:
        batches[-1].append(item)
        accepted += isinstance(item, Accepted)
        if accepted == size:
            batches.append([])
            accepted = 0
    return batches


def _batched(parts: list[Results], size: int) -> list[Results]:
    """Chunk results cut into batches of ``size`` records, as the submitter cuts them."""
    pending, batches = Results(), []
    for part in parts:
        rest: Results | None = part
        while rest is not None:
            head, rest = rest.split(size - len(pending))
            pending.extend(head)
            if len(pending) >= size:
                batches.append(pending)
                pending = Results(last_row=pending.last_row)
    batches.append(pending)
    return batches


@given(_OUTCOMES, st.integers(1, 7), st.integers(1, 9))
def test_split_batches_like_a_row_by_row_loop(
    outcomes: list[tuple[bool, int]], size: int, chunk: int
) -> None:
    items = _per_row(outcomes)
    parts = [_results(items[start : start + chunk]) for start in range(0, len(items), chunk)]
    batches = _batched(parts, size)
    assert [list(b.items()) for b in batches] == _batches_row_by_row(items, size)
    for batch in batches:
        rows = [r.row_number for r in batch.refused] + list(batch.rows)
        assert batch.last_row == max(rows, default=batch.last_row)


@given(_OUTCOMES, st.integers(0, 45))
def test_after_drops_the_rows_already_done(outcomes: list[tuple[bool, int]], skip: int) -> None:
    items = _per_row(outcomes)
    kept = _results(items).after(skip)
    expected = [
        i for i in items if (i.row_number if isinstance(i, Accepted) else i[0].row_number) > skip
    ]
    assert list(kept.items()) == expected
    if items:
        assert kept.last_row == max(len(items), skip)


@given(_OUTCOMES, st.integers(0, 1000))
def test_shifted_moves_rows_by_the_offset(outcomes: list[tuple[bool, int]], offset: int) -> None:
    results = _results(_per_row(outcomes))
    back = results.shifted(offset)
    assert list(back.rows) == [r + offset for r in results.rows]
    assert back.record_ids == results.record_ids
    assert back.leaf_hashes == results.leaf_hashes
    assert back.canonicals == results.canonicals
    assert back.refused == [
        Refused(r.row_number + offset, r.field, r.reason) for r in results.refused
    ]
    assert back.last_row == (results.last_row + offset if results.last_row else 0)


def test_flusher_keeps_order_groups_what_waits_and_reraises_a_failed_flush() -> None:
    import threading

    from ledger.ingest.store import Flusher, Queued

    seen: list[list[tuple[int, bool]]] = []
    gate = threading.Event()

    def flush(group: list[Queued]) -> None:
        assert gate.wait(WAIT_SECONDS)  # the first group holds the thread; the others queue
        if any(q.batch.last_row == 3 for q in group):
            raise RuntimeError("store down")
        seen.append([(q.batch.last_row, q.final) for q in group])

    flusher = Flusher(flush)
    for row in (1, 2, 5, 6):
        flusher.put(Results(last_row=row))
    flusher.put(Results(last_row=9), final=True)
    gate.set()
    flusher.close()
    assert [item for group in seen for item in group] == [
        (1, False), (2, False), (5, False), (6, False), (9, True)
    ]  # fmt: skip
    assert len(seen) < 5  # some waited together and went in one transaction
    assert all(len(group) <= Flusher.MAX_GROUP for group in seen)

    seen.clear()
    failing = Flusher(flush)
    failing.put(Results(last_row=3))
    failing.put(Results(last_row=4))  # queued behind the failure: never flushed
    with pytest.raises(RuntimeError, match="store down"):
        failing.close()
    assert not any((4, False) in group for group in seen)


@given(_OUTCOMES, st.integers(1, 7), st.integers(1, 9), st.data())
def test_each_batch_carries_the_facts_of_its_own_records(
    outcomes: list[tuple[bool, int]], size: int, chunk: int, data: st.DataObject
) -> None:
    items = _per_row(outcomes)
    accepted = [item.row_number for item in items if isinstance(item, Accepted)]
    co_funded = sorted(data.draw(st.sets(st.sampled_from(accepted))) if accepted else [])
    parts = []
    for start in range(0, len(items), chunk):
        part = _results(items[start : start + chunk])
        rows = [r for r in co_funded if start < r <= start + chunk]
        part.facts = pl.DataFrame(
            {"row": rows, "fact": [f"f{r}" for r in rows]},
            schema={"row": pl.Int64, "fact": pl.String},
        )
        parts.append(part)
    for batch in _batched(parts, size):
        expected = [r for r in co_funded if r in set(batch.rows)]
        assert _fact_rows(batch) == expected
        if batch.rows:  # a killed run's resume cuts a batch after a row
            cut = batch.rows[len(batch.rows) // 2]
            assert _fact_rows(batch.after(cut)) == [r for r in expected if r > cut]


def _fact_rows(results: Results) -> list[int]:
    return [] if results.facts is None else results.facts.get_column("row").to_list()
