"""The anchoring transactions of each batch as they were mined (``anchor_txs``).

With K confirmations a mined anchor waits K blocks before its batch counts as
anchored; the row says in which block (by hash) to find it, and a reorg that
drops that block stamps it ``dropped_at``, so the auditor reports every anchor a
reorg undid. No foreign key: the trail stays readable when a batch row is gone.
A store adopted from before the migrations may have the table already (its
missing tables are made as it is opened), so it is made only when absent.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.schema import ANCHOR_TXS, REBUILDS

revision = ANCHOR_TXS
down_revision = REBUILDS
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("anchor_txs"):
        return
    op.create_table(
        "anchor_txs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("recorded_at", sa.String(length=32), nullable=False),
        sa.Column("dropped_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_anchor_txs_batch_id"), "anchor_txs", ["batch_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_anchor_txs_batch_id"), table_name="anchor_txs")
    op.drop_table("anchor_txs")
