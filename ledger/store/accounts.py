"""Each co-funded account's last anchored state, which its next records are compared with.

One row per account, keyed by its pseudonym (never a raw identifier), written
in the transaction that stores the batch holding the record it came from. Only
accounts with funders have a state: an account no bank co-funds raises no
alert, and the co-funded book is what the risk plan's portfolio figures cover.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson
import polars as pl
from sqlalchemy import Integer, Text, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.store.models import Base

#: Accounts looked up per statement (well inside every database's bound-parameter limit).
_IN_CHUNK: Final = 500
#: Rows written per statement.
_WRITE_CHUNK: Final = 2_000


class AccountState(Base):
    """The last record of a co-funded account, as the alerts compare with it."""

    __tablename__ = "account_states"

    account: Mapped[str] = mapped_column(Text, primary_key=True)  # the account pseudonym
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


#: The columns, in table order (what :func:`states_of` returns and :func:`put_states` takes).
COLUMNS: Final = tuple(c.name for c in AccountState.__table__.columns)
#: Their polars types.
SCHEMA: Final[Mapping[str, pl.DataType]] = {
    c.name: pl.Int64() if isinstance(c.type, Integer) else pl.String()
    for c in AccountState.__table__.columns
}
_NAMES: Final = ", ".join(COLUMNS)
#: SQLite takes the accounts as one JSON array and the states as one executemany of
#: tuples: no per-row work in Python (the ORM's, or Core's parameter building).
_SELECT_SQLITE: Final = (
    f"SELECT {_NAMES} FROM account_states "  # noqa: S608 - the table's own column names
    "WHERE account IN (SELECT value FROM json_each(?))"
)
_CHANGED: Final = ", ".join(f"{name} = excluded.{name}" for name in COLUMNS if name != "account")
_UPSERT_SQLITE: Final = (
    f"INSERT INTO account_states ({_NAMES}) "  # noqa: S608 - the table's own column names
    f"VALUES ({', '.join('?' for _ in COLUMNS)}) ON CONFLICT (account) DO UPDATE SET {_CHANGED}"
)


def states_of(s: Session, accounts: Iterable[str]) -> pl.DataFrame:
    """The stored states of those of ``accounts`` that have one (columns :data:`COLUMNS`)."""
    wanted = list(dict.fromkeys(accounts))
    conn = s.connection()
    rows: list[Any] = []
    if conn.dialect.name == "sqlite":
        rows = list(conn.exec_driver_sql(_SELECT_SQLITE, (orjson.dumps(wanted).decode(),)))
    else:
        table = AccountState.__table__
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            rows.extend(conn.execute(select(table).where(table.c.account.in_(chunk))))
    return pl.DataFrame([tuple(row) for row in rows], schema=SCHEMA, orient="row")


def put_states(s: Session, states: pl.DataFrame) -> None:
    """Insert or replace the states of these accounts (a frame with every column)."""
    if states.is_empty():
        return
    states = states.select(COLUMNS)
    conn = s.connection()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.exec_driver_sql(_UPSERT_SQLITE, states.rows())
        return
    for start in range(0, states.height, _WRITE_CHUNK):
        chunk = states.slice(start, _WRITE_CHUNK).to_dicts()
        if dialect == "postgresql":
            pg = postgresql.insert(AccountState)
            changed = {name: pg.excluded[name] for name in COLUMNS if name != "account"}
            conn.execute(pg.on_conflict_do_update(index_elements=["account"], set_=changed), chunk)
        else:  # another database: the portable way, one account at a time
            for state in chunk:
                s.merge(AccountState(**state))


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


def book(s: Session) -> pl.DataFrame:
    """The whole co-funded book: days past due, balance and funders (JSON) per account."""
    table = AccountState.__table__
    result = (
        s.connection()
        .execution_options(yield_per=_BOOK_PART)
        .execute(select(*(table.c[name] for name in BOOK)))
    )
    parts = [
        pl.DataFrame([tuple(row) for row in part], schema=BOOK, orient="row")
        for part in result.partitions()
    ]
    return pl.concat(parts) if parts else pl.DataFrame(schema=BOOK)
