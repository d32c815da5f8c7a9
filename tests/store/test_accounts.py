"""Account states: stored column-wise, read back by account (keys that collide kept
apart), and the whole book in parts; on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pytest
from sqlalchemy import create_engine, text

from ledger.errors import ConfigurationError
from ledger.store import Store
from ledger.store.accounts import (
    _BOOK_PART,
    COLUMNS,
    ID,
    SCHEMA,
    account_key,
    book,
    put_states,
    states_of,
)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store(db_url)
    yield opened
    opened.close()


def _account(i: int) -> str:
    return f"0x{i:064x}"


def _states(accounts: list[str], dpd: int, ids: dict[str, int] | None = None) -> pl.DataFrame:
    """New states of ``accounts`` (or replacements of those in ``ids``, by row id)."""
    rows = [
        {
            ID: (ids or {}).get(account),
            **{
                name: account
                if name == "account"
                else dpd
                if SCHEMA[name] == pl.Int64
                else f"{name}-{account[-4:]}"
                for name in COLUMNS
            },
        }
        for account in accounts
    ]
    return pl.DataFrame(rows, schema={ID: pl.Int64, **SCHEMA})


def _ids(found: pl.DataFrame) -> dict[str, int]:
    return dict(found.select("account", ID).iter_rows())


def test_states_are_replaced_and_read_back_by_account(store: Store) -> None:
    with store.session() as s, s.begin():
        put_states(s, _states([_account(i) for i in range(3)], dpd=0))
    with store.session() as s, s.begin():
        stored = states_of(s, [_account(1), _account(3)])
        assert stored.get_column("account").to_list() == [_account(1)]
        # One replaced (by the row it was read from), one new.
        put_states(s, _states([_account(1), _account(3)], dpd=45, ids=_ids(stored)))
    with store.session() as s:
        found = states_of(s, [_account(i) for i in (0, 1, 3, 7)] + [_account(1)])
    assert sorted(found.select("account", "dpd").rows()) == [
        (_account(0), 0),
        (_account(1), 45),
        (_account(3), 45),
    ]
    assert found.drop(ID).schema == SCHEMA
    assert found.get_column(ID).n_unique() == 3  # replaced in place, not added


def test_accounts_whose_keys_collide_stay_apart(store: Store) -> None:
    one, other = "0x" + "ab" * 8 + "1" * 48, "0x" + "ab" * 8 + "2" * 48
    keys = pl.DataFrame({"account": [one, other]}).select(account_key()).to_series()
    assert keys.n_unique() == 1
    with store.session() as s, s.begin():
        put_states(s, _states([one, other], dpd=0))
    with store.session() as s, s.begin():
        stored = states_of(s, [one])
        assert stored.get_column("account").to_list() == [one]
        put_states(s, _states([one], dpd=90, ids=_ids(stored)))
    with store.session() as s:
        found = states_of(s, [one, other])
    assert sorted(found.select("account", "dpd").rows()) == [(one, 90), (other, 0)]


def test_a_store_with_the_earlier_account_layout_is_refused(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE account_states (account TEXT PRIMARY KEY, dpd INTEGER)"))
    engine.dispose()
    # Made before the schema had revisions: known by its layout, upgraded by `ledger db`.
    with pytest.raises(ConfigurationError, match=r"revision 0001.*") as refused:
        Store(db_url)
    assert "ledger db upgrade" in str(refused.value.hint)


def test_the_whole_book_is_read_across_parts(store: Store) -> None:
    count = 2 * _BOOK_PART + 3
    with store.session() as s, s.begin():
        put_states(s, _states([_account(i) for i in range(count)], dpd=31))
    with store.session() as s:
        held = book(s)
    assert held.height == count
    assert held.get_column("balance").n_unique() == count
    assert held.get_column("dpd").unique().to_list() == [31]


def test_reading_the_book_leaves_the_transaction_able_to_write(store: Store) -> None:
    # A submission reads the book, then writes bank levels in the same transaction: the
    # book's streaming read must not stay on the session's connection (on PostgreSQL
    # every later statement would become a server-side cursor, which an INSERT cannot be).
    with store.session() as s, s.begin():
        put_states(s, _states([_account(i) for i in range(3)], dpd=31))
    with store.session() as s, s.begin():
        assert book(s).height == 3
        put_states(s, _states([_account(9)], dpd=0))
    with store.session() as s:
        assert book(s).height == 4
