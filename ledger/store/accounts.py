"""Each co-funded account's last anchored state, which its next records are compared with.

One row per account, found by its pseudonym (never a raw identifier), written
in the transaction that stores the batch holding the record it came from. Only
accounts with funders have a state: an account no bank co-funds raises no
alert, and the co-funded book is what the risk plan's portfolio figures cover.

The index is on :func:`account_key`, 60 bits of the pseudonym, not on the
pseudonym's 66 characters: with random keys every batch touches most of the
index's pages, and on SQLite's 64 KiB pages a narrow index is several times
fewer bytes to write per batch. Keys may collide: a look-up reads every row of
its keys and keeps the accounts asked for, and a state is updated by its row id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
import polars as pl
from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.store import pgcopy
from ledger.store.db import insert_many
from ledger.store.models import ERASABLE, Base

#: Keys looked up per statement (well inside every database's bound-parameter limit).
_IN_CHUNK: Final = 500
#: Hex digits of the pseudonym (after ``0x``) that make its key: 60 bits, a
#: non-negative 64-bit integer on every database.
_KEY_DIGITS: Final = 15
#: Taken on PostgreSQL until commit by a transaction that reads states to replace
#: them, so that two submissions never both insert the same new account.
STATES_LOCK: Final = 0x41_43_43_54  # "ACCT"


class AccountState(Base):
    """The last record of a co-funded account, as the alerts compare with it."""

    __tablename__ = "account_states"
    __table_args__ = (Index("ix_account_states_key", "key"),)

    #: The row id: new states go at the table's end, in the order they come.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    key: Mapped[int] = mapped_column(BigInteger, info=ERASABLE)  # account_key() of the account
    account: Mapped[str] = mapped_column(Text, info=ERASABLE)  # the account pseudonym
    period: Mapped[str] = mapped_column(Text)
    dpd: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[int] = mapped_column(Integer)
    principal_bucket: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(Text)
    five_class: Mapped[str] = mapped_column(Text)
    balance: Mapped[str] = mapped_column(Text)
    overdue_amount: Mapped[str] = mapped_column(Text)
    #: JSON list of ``{"org_code", "share_bp"}``.
    funders: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[str] = mapped_column(Text)


_TABLE: Final = AccountState.__table__
assert isinstance(_TABLE, Table)
#: The columns a new record of an account replaces (all but the account itself).
_CHANGED: Final = [c.name for c in _TABLE.columns if c.name not in ("id", "key", "account")]
_INSERT: Final = insert(_TABLE)
# Bound names apart from the columns' own (SQLAlchemy keeps those for itself).
_UPDATE: Final = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values({name: bindparam("new_" + name) for name in _CHANGED})
)


def account_key() -> pl.Expr:
    """The indexed key of each pseudonym (``0x`` and 64 hex digits) in the ``account``
    column: its first 60 bits, as a non-negative 64-bit integer."""
    key = pl.col("account").str.slice(2, _KEY_DIGITS).str.to_integer(base=16, dtype=pl.Int64)
    return key.alias("key")


#: A state's columns, in table order (what :func:`states_of` returns beside the row
#: ``id``, and what :func:`put_states` takes).
COLUMNS: Final = tuple(c.name for c in _TABLE.columns if c.name not in ("id", "key"))
#: Their polars types.
SCHEMA: Final[Mapping[str, pl.DataType]] = {
    c.name: pl.Int64() if isinstance(c.type, Integer) else pl.String()
    for c in _TABLE.columns
    if c.name in COLUMNS
}
#: The row id of a stored state (null in :func:`put_states` for a new account).
ID: Final = "id"
_READ: Final = (ID, *COLUMNS)
_READ_SCHEMA: Final[Mapping[str, pl.DataType]] = {ID: pl.Int64(), **SCHEMA}
_NAMES: Final = ", ".join(_READ)
#: SQLite takes the keys as one JSON array and the states as tuples, many rows to a
#: statement (:func:`~ledger.store.db.insert_many`): no per-row work in Python (the
#: ORM's, or Core's parameter building).
_SELECT_SQLITE: Final = (
    f"SELECT {_NAMES} FROM account_states "  # noqa: S608 - the table's own column names
    "WHERE key IN (SELECT value FROM json_each(?))"
)
_UPDATE_SQLITE: Final = (
    "UPDATE account_states SET "  # noqa: S608 - the table's own column names
    f"{', '.join(f'{name} = ?' for name in _CHANGED)} WHERE id = ?"
)


def states_of(s: Session, accounts: Sequence[str] | pl.Series) -> pl.DataFrame:
    """The stored states of those of ``accounts`` that have one: their row :data:`ID`
    and :data:`COLUMNS`. On PostgreSQL it also takes :data:`STATES_LOCK`: the caller
    is about to replace them."""
    wanted = pl.Series("account", accounts, dtype=pl.String)
    keys = wanted.to_frame().select(account_key().unique()).to_series().to_list()
    conn = s.connection()
    rows: list[Any] = []
    if conn.dialect.name == "sqlite":
        rows = list(conn.exec_driver_sql(_SELECT_SQLITE, (orjson.dumps(keys).decode(),)))
    else:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STATES_LOCK})
        columns = [_TABLE.c[name] for name in _READ]
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            rows.extend(conn.execute(select(*columns).where(_TABLE.c.key.in_(chunk))))
    found = pl.DataFrame([tuple(row) for row in rows], schema=_READ_SCHEMA, orient="row")
    if found.is_empty():  # new accounts (a first submission's are all new)
        return found
    # Another account may share a key: keep the ones asked for.
    return found.filter(pl.col("account").is_in(wanted.implode()))


def put_states(s: Session, states: pl.DataFrame) -> None:
    """Store these states: :data:`COLUMNS`, and :data:`ID` (the row :func:`states_of`
    read, or null for an account without a state yet, which gets a new row)."""
    if states.is_empty():
        return
    new, old = _new_and_stored(states)
    conn = s.connection()
    if conn.dialect.name == "sqlite":
        if new.height:
            rows = new.select(account_key(), *COLUMNS).rows()
            insert_many(conn, AccountState.__tablename__, ("key", *COLUMNS), rows)
        if old.height:
            conn.exec_driver_sql(_UPDATE_SQLITE, old.select(*_CHANGED, ID).rows())
        return
    if new.height and pgcopy.copies(s):  # a first submission's accounts: all new
        pgcopy.copy_rows(
            s,
            AccountState.__tablename__,
            ("key", *COLUMNS),
            new.select(account_key(), *COLUMNS).rows(),
        )
    elif new.height:
        conn.execute(_INSERT, new.select(account_key(), *COLUMNS).to_dicts())
    if old.height:
        params = old.select(*(pl.col(n).alias("new_" + n) for n in _CHANGED), row_id=pl.col(ID))
        conn.execute(_UPDATE, params.to_dicts())


def _new_and_stored(states: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The states without a row yet, and those with one; usually all are one or the
    other (a first submission's accounts are all new), and nothing is filtered."""
    stored = states.get_column(ID).is_not_null()
    held = int(stored.sum())
    if held == 0:
        return states, states.clear()
    if held == states.height:
        return states.clear(), states
    return states.filter(~stored), states.filter(stored)


def forget_states(s: Session, accounts: Sequence[str]) -> int:
    """Drop the stored states of ``accounts`` (erasure of their subject); how many."""
    found = states_of(s, accounts)  # takes STATES_LOCK on PostgreSQL, as a writer must
    ids = found.get_column(ID).to_list()
    for start in range(0, len(ids), _IN_CHUNK):
        s.execute(delete(AccountState).where(AccountState.id.in_(ids[start : start + _IN_CHUNK])))
    return len(ids)


class BankLevel(Base):
    """The risk plan's level in force for one bank, and under which plan it was set."""

    __tablename__ = "bank_levels"

    institution: Mapped[str] = mapped_column(Text, primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    plan_digest: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[str] = mapped_column(Text)


#: :func:`book`'s columns.
BOOK: Final[Mapping[str, pl.DataType]] = {
    "dpd": pl.Int64(),
    "balance": pl.String(),
    "funders": pl.String(),
}
#: Accounts read into Python at a time: the whole book is one frame, never one tuple
#: per account all at once (150k accounts as tuples held ~100 MB at a submission's end).
_BOOK_PART: Final = 20_000


def book(s: Session, *, funder: str | None = None) -> pl.DataFrame:
    """The whole co-funded book: days past due, balance and funders (JSON) per account.

    ``funder``: only accounts whose funders' JSON holds that text (a superset of that
    bank's loans, read without the others'; the caller keeps its exact funders)."""
    table = AccountState.__table__
    query = select(*(table.c[name] for name in BOOK))
    if funder is not None:
        query = query.where(table.c.funders.contains(funder, autoescape=True))
    conn = s.connection()
    if conn.dialect.name == "sqlite":  # the driver's tuples, not a Row per account (2.5x faster)
        compiled = query.compile(dialect=conn.dialect)
        values = compiled.construct_params()
        positional = [values[name] for name in compiled.positiontup or ()]
        driver = conn.connection.driver_connection
        assert driver is not None  # an open session's connection
        cursor = driver.execute(str(compiled), positional)
        try:
            parts = [pl.DataFrame(rows, schema=BOOK, orient="row")
                     for rows in iter(lambda: cursor.fetchmany(_BOOK_PART), [])]  # fmt: skip
        finally:
            cursor.close()
        return pl.concat(parts) if parts else pl.DataFrame(schema=BOOK)
    # The option on the statement, not the connection: a connection keeps its options
    # (SQLAlchemy 2), and on PostgreSQL every later statement of the session's
    # transaction would then open a server-side cursor, which an INSERT cannot.
    result = conn.execute(query.execution_options(yield_per=_BOOK_PART))
    parts = [
        pl.DataFrame([tuple(row) for row in part], schema=BOOK, orient="row")
        for part in result.partitions()
    ]
    return pl.concat(parts) if parts else pl.DataFrame(schema=BOOK)
