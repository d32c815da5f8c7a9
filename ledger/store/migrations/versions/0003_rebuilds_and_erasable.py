"""The rebuild marker, and no statistics of erasable columns on PostgreSQL.

- ``rebuilds``: the row ``ledger audit --rebuild`` writes into the store it makes
  (whose chain, up to which block), so that an audit of that store knows what it
  cannot hold. A store adopted from before the migrations may have it already
  (its missing tables are made as it is opened), so it is made only when absent.
- PostgreSQL keeps no statistics of the columns an erasure clears
  (:data:`ledger.store.models.ERASABLE`): ``ANALYZE`` would copy sample values into
  ``pg_statistic``, where no erasure reaches. The columns are listed here as this
  revision has them (a later revision's models may have more).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from alembic import op

from ledger.store.schema import BY_KEY, REBUILDS

revision = REBUILDS
down_revision = BY_KEY
branch_labels = None
depends_on = None

#: (table, column) of every erasable column at this revision.
ERASABLE_COLUMNS: Final = (
    ("account_states", "account"),
    ("account_states", "key"),
    ("consents", "receipt"),
    ("consents", "subject_pseudonym"),
    ("inquiries", "subject_pseudonym"),
    ("leaf_segments", "canonicals"),
    ("leaf_segments", "record_ids"),
)


def _statistics(target: int) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in ERASABLE_COLUMNS:
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET STATISTICS {target}')


def upgrade() -> None:
    if not sa.inspect(op.get_bind()).has_table("rebuilds"):
        op.create_table(
            "rebuilds",
            sa.Column("chain_id", sa.BigInteger(), nullable=False),
            sa.Column("to_block", sa.BigInteger(), nullable=False),
            sa.Column("log_head", sa.String(length=66), nullable=False),
            sa.Column("rebuilt_at", sa.String(length=32), nullable=False),
            sa.PrimaryKeyConstraint("chain_id"),
        )
    _statistics(0)


def downgrade() -> None:
    _statistics(-1)  # the server's default target
    op.drop_table("rebuilds")
