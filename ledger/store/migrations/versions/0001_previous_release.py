"""The schema of the release before account states were indexed by key.

Every table as that release's models declared them (``create_all``): the tables of
today's models, but for ``account_states``, keyed by the whole account pseudonym.
Stores made by that release carry no revision; ``ledger db upgrade`` knows them by
that table's layout, stamps them at this revision and upgrades them.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.schema import BY_PSEUDONYM

revision = BY_PSEUDONYM
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Account states as that release kept them: one row per account, keyed by its
    # whole pseudonym (revision 0002 indexes them by 60 bits of it).
    op.create_table(
        "account_states",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("principal_bucket", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("five_class", sa.Text(), nullable=False),
        sa.Column("balance", sa.Text(), nullable=False),
        sa.Column("overdue_amount", sa.Text(), nullable=False),
        sa.Column("funders", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=True),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("revoked_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "bank_levels",
        sa.Column("institution", sa.Text(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("plan_digest", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("institution"),
    )
    op.create_table(
        "consents",
        sa.Column("consent_id", sa.String(length=66), nullable=False),
        sa.Column("subject_pseudonym", sa.String(length=66), nullable=True),
        sa.Column("receipt", sa.LargeBinary(), nullable=True),
        sa.Column("commitment", sa.String(length=66), nullable=False),
        sa.Column("valid_from", sa.BigInteger(), nullable=False),
        sa.Column("valid_until", sa.BigInteger(), nullable=False),
        sa.Column("supersedes", sa.String(length=66), nullable=True),
        sa.Column("superseded_by", sa.String(length=66), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("registry", sa.String(length=42), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("revoke_status", sa.String(length=16), nullable=True),
        sa.Column("revoke_tx_hash", sa.String(length=66), nullable=True),
        sa.Column("revoke_block_number", sa.BigInteger(), nullable=True),
        sa.Column("erased_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("consent_id"),
    )
    op.create_index(op.f("ix_consents_revoke_status"), "consents", ["revoke_status"], unique=False)
    op.create_index(op.f("ix_consents_status"), "consents", ["status"], unique=False)
    op.create_index(
        op.f("ix_consents_subject_pseudonym"), "consents", ["subject_pseudonym"], unique=False
    )
    op.create_table(
        "erasures",
        sa.Column("erasure_id", sa.String(length=66), nullable=False),
        sa.Column("erased_at", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("consents", sa.Integer(), nullable=False),
        sa.Column("inquiries", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("erasure_id"),
    )
    op.create_table(
        "leaf_keys",
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("batch_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("erased", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", "batch_key", "leaf_index"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "record_keys",
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("batch_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("key", "batch_key", "leaf_index"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("file_sha256", sa.String(length=66), nullable=False),
        sa.Column("policy", sa.String(length=80), nullable=False),
        sa.Column("schema", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_submissions_file_sha256"), "submissions", ["file_sha256"], unique=False
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("disabled_at", sa.String(length=32), nullable=True),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("institution"),
    )
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.String(length=66), nullable=False),
        sa.Column("batch_key", sa.BigInteger(), nullable=False),
        sa.Column("submission_id", sa.String(length=66), nullable=True),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=66), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("manifest_hash", sa.String(length=66), nullable=False),
        sa.Column("first_row", sa.Integer(), nullable=False),
        sa.Column("last_row", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("registry", sa.String(length=42), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_timestamp", sa.String(length=32), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
        ),
        sa.PrimaryKeyConstraint("batch_id"),
        sa.UniqueConstraint("batch_key"),
        sa.UniqueConstraint("root"),
    )
    op.create_index(op.f("ix_batches_status"), "batches", ["status"], unique=False)
    op.create_index(op.f("ix_batches_submission_id"), "batches", ["submission_id"], unique=False)
    op.create_table(
        "rejections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("submission_id", sa.String(length=66), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_rejections_submission_id"), "rejections", ["submission_id"], unique=False
    )
    op.create_table(
        "webhook_keys",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("seal_key_id", sa.String(length=64), nullable=False),
        sa.Column("hmac_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("ed25519_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("retires_at_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["institution"],
            ["webhook_endpoints.institution"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("institution", "generation"),
    )
    op.create_index(
        op.f("ix_webhook_keys_institution"), "webhook_keys", ["institution"], unique=False
    )
    op.create_table(
        "alerts",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.String(length=66), nullable=True),
        sa.Column("log_batch_id", sa.String(length=66), nullable=True),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["log_batch_id"],
            ["batches.batch_id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_alerts_batch_id"), "alerts", ["batch_id"], unique=False)
    op.create_index("ix_alerts_institution_seq", "alerts", ["institution", "seq"], unique=False)
    op.create_index(op.f("ix_alerts_log_batch_id"), "alerts", ["log_batch_id"], unique=False)
    op.create_table(
        "inquiries",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("inquiry_id", sa.String(length=66), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("subject_pseudonym", sa.String(length=66), nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("consent_id", sa.String(length=66), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("checked_at", sa.String(length=32), nullable=False),
        sa.Column("logged_at", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.String(length=66), nullable=True),
        sa.Column("leaf_index", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.batch_id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("inquiry_id"),
    )
    op.create_index(op.f("ix_inquiries_batch_id"), "inquiries", ["batch_id"], unique=False)
    op.create_index(op.f("ix_inquiries_institution"), "inquiries", ["institution"], unique=False)
    op.create_table(
        "leaf_segments",
        sa.Column("batch_id", sa.String(length=66), nullable=False),
        sa.Column("segment", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.Column("record_ids", sa.Text(), nullable=False),
        sa.Column("lengths", sa.LargeBinary(), nullable=False),
        sa.Column("canonicals", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.batch_id"],
        ),
        sa.PrimaryKeyConstraint("batch_id", "segment"),
    )
    op.create_table(
        "alert_acks",
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("acknowledged_at", sa.String(length=32), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("log_batch_id", sa.String(length=66), nullable=True),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["log_batch_id"],
            ["batches.batch_id"],
        ),
        sa.PrimaryKeyConstraint("alert_id"),
    )
    op.create_index(op.f("ix_alert_acks_institution"), "alert_acks", ["institution"], unique=False)
    op.create_index(
        op.f("ix_alert_acks_log_batch_id"), "alert_acks", ["log_batch_id"], unique=False
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_ms", sa.BigInteger(), nullable=True),
        sa.Column("lease_owner", sa.String(length=32), nullable=True),
        sa.Column("delivered_at", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
        ),
        sa.PrimaryKeyConstraint("alert_id"),
    )
    op.create_index(
        "ix_alert_deliveries_institution_state_due",
        "alert_deliveries",
        ["institution", "state", "due_ms"],
        unique=False,
    )
    op.create_index(
        "ix_alert_deliveries_state_due", "alert_deliveries", ["state", "due_ms"], unique=False
    )
    op.create_table(
        "alert_delivery_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.String(length=32), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("log_batch_id", sa.String(length=66), nullable=True),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["log_batch_id"],
            ["batches.batch_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_alert_delivery_attempts_alert_id"),
        "alert_delivery_attempts",
        ["alert_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_alert_delivery_attempts_log_batch_id"),
        "alert_delivery_attempts",
        ["log_batch_id"],
        unique=False,
    )


def downgrade() -> None:
    # Dependents first.
    op.drop_table("alert_delivery_attempts")
    op.drop_table("alert_deliveries")
    op.drop_table("alert_acks")
    op.drop_table("leaf_segments")
    op.drop_table("inquiries")
    op.drop_table("alerts")
    op.drop_table("webhook_keys")
    op.drop_table("rejections")
    op.drop_table("batches")
    op.drop_table("webhook_endpoints")
    op.drop_table("submissions")
    op.drop_table("record_keys")
    op.drop_table("leaf_keys")
    op.drop_table("erasures")
    op.drop_table("consents")
    op.drop_table("bank_levels")
    op.drop_table("api_keys")
    op.drop_table("account_states")
