"""Account states: stored column-wise, read back by account, and the whole book in parts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from ledger.store import Store
from ledger.store.accounts import _BOOK_PART, COLUMNS, SCHEMA, book, put_states, states_of


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path)
    yield opened
    opened.close()


def _states(count: int, dpd: int, start: int = 0) -> pl.DataFrame:
    rows = [
        {
            name: f"0x{i:064x}"
            if name == "account"
            else dpd
            if SCHEMA[name] == pl.Int64
            else f"{name}{i}"
            for name in COLUMNS
        }
        for i in range(start, start + count)
    ]
    return pl.DataFrame(rows, schema=SCHEMA)


def test_states_are_replaced_and_read_back_by_account(store: Store) -> None:
    with store.session() as s, s.begin():
        put_states(s, _states(3, dpd=0))
    with store.session() as s, s.begin():
        put_states(s, _states(2, dpd=45, start=1))  # one replaced, one new
    with store.session() as s:
        found = states_of(s, [f"0x{i:064x}" for i in (0, 2, 7)] + [f"0x{2:064x}"])
    assert sorted(found.select("account", "dpd").rows()) == [
        (f"0x{0:064x}", 0),
        (f"0x{2:064x}", 45),
    ]
    assert found.schema == SCHEMA


def test_the_whole_book_is_read_across_parts(store: Store) -> None:
    count = 2 * _BOOK_PART + 3
    with store.session() as s, s.begin():
        put_states(s, _states(count, dpd=31))
    with store.session() as s:
        held = book(s)
    assert held.height == count
    assert held.get_column("balance").n_unique() == count
    assert held.get_column("dpd").unique().to_list() == [31]
