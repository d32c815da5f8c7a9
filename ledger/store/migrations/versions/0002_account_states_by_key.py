"""Account states indexed by 60 bits of the pseudonym, updated by row id.

The states move to a table with a row id and the indexed key of each account,
computed by :func:`ledger.store.accounts.account_key` (the one rule for it), a part
at a time, in the order of the old primary key; the old table is then dropped and
the new one takes its name (and, on PostgreSQL, its constraint's and sequence's).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Final

import polars as pl
import sqlalchemy as sa
from alembic import op

from ledger.store.accounts import account_key
from ledger.store.schema import BY_KEY, BY_PSEUDONYM

revision = BY_KEY
down_revision = BY_PSEUDONYM
branch_labels = None
depends_on = None

#: A state's columns beside its row id and key, as both revisions have them.
_COLUMNS: Final = (
    ("account", sa.Text),
    ("period", sa.Text),
    ("dpd", sa.Integer),
    ("bucket", sa.Integer),
    ("principal_bucket", sa.Integer),
    ("status", sa.Text),
    ("five_class", sa.Text),
    ("balance", sa.Text),
    ("overdue_amount", sa.Text),
    ("funders", sa.Text),
    ("leaf_hash", sa.Text),
    ("batch_id", sa.Text),
)
_NAMES: Final = tuple(name for name, _ in _COLUMNS)
#: States carried over per statement.
_PART: Final = 20_000


def _columns() -> list[sa.Column[object]]:
    return [sa.Column(name, kind(), nullable=False) for name, kind in _COLUMNS]


def _rename(old: str, new: str) -> None:
    """``old`` takes the name ``new``; on PostgreSQL its primary key and (if it has one)
    its row id's sequence too, so the store reads as one ``create_all`` made."""
    op.rename_table(old, new)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'ALTER TABLE "{new}" RENAME CONSTRAINT "{old}_pkey" TO "{new}_pkey"')
        op.execute(f'ALTER SEQUENCE IF EXISTS "{old}_id_seq" RENAME TO "{new}_id_seq"')


def _copy(source: sa.TableClause, target: sa.TableClause, *, keyed: bool) -> None:
    """Every state of ``source`` into ``target``, a part at a time in account order (with
    its :func:`account_key` when ``keyed``)."""
    conn = op.get_bind()
    schema = {name: pl.Int64() if kind is sa.Integer else pl.String() for name, kind in _COLUMNS}
    order = source.c.account
    after: str | None = None
    while True:
        query = sa.select(*(source.c[name] for name in _NAMES)).order_by(order).limit(_PART)
        if after is not None:
            query = query.where(order > after)
        rows = conn.execute(query).all()
        if not rows:
            return
        part = pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")
        if keyed:
            part = part.select(account_key(), *_NAMES)
        conn.execute(sa.insert(target), part.to_dicts())
        after = rows[-1][0]


def upgrade() -> None:
    old = sa.table("account_states", *(sa.column(name) for name in _NAMES))
    new = op.create_table(
        "account_states_next",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("key", sa.BigInteger(), nullable=False),
        *_columns(),
    )
    assert new is not None
    _copy(old, new, keyed=True)
    op.drop_table("account_states")
    _rename("account_states_next", "account_states")
    op.create_index("ix_account_states_key", "account_states", ["key"], unique=False)


def downgrade() -> None:
    new = sa.table("account_states", *(sa.column(name) for name in _NAMES))
    old = op.create_table(
        "account_states_previous",
        *_columns(),
        sa.PrimaryKeyConstraint("account"),
    )
    assert old is not None
    _copy(new, old, keyed=False)
    op.drop_index("ix_account_states_key", table_name="account_states")
    op.drop_table("account_states")
    _rename("account_states_previous", "account_states")
