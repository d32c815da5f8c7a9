"""Tables of the store. It holds only desensitised data: no name, ID number,
mobile or account number ever reaches a column here.

The store is an index and a cache; the chain is the source of truth for what
was anchored (``ledger audit`` rebuilds this from the chain plus the records).
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Connection,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


#: ``info`` of a column that holds what an erasure removes (a subject's pseudonym, a
#: record, a receipt). PostgreSQL keeps no statistics of it (``ANALYZE`` would copy
#: sample values into ``pg_statistic``, where no erasure reaches), and an erasure
#: rewrites its table so that no old row version keeps the value
#: (:mod:`ledger.store.purge`).
ERASABLE: Final = {"erasable": True}


def erasable_tables() -> list[Table]:
    """The tables with an erasable column, in name order."""
    return [
        table
        for name, table in sorted(Base.metadata.tables.items())
        if any(column.info.get("erasable") for column in table.columns)
    ]


@event.listens_for(Base.metadata, "after_create")
def _no_statistics_of_erasable(_target: Any, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name != "postgresql":
        return
    for table in kw.get("tables", ()):
        for column in table.columns:
            if column.info.get("erasable"):
                connection.exec_driver_sql(
                    f"ALTER TABLE {table.name} ALTER COLUMN {column.name} SET STATISTICS 0"
                )


def batch_key(batch_id: str) -> int:
    """The first 8 bytes of a (random, 32-byte hex) batch id, as a signed integer."""
    return int.from_bytes(bytes.fromhex(batch_id[2:18]), "big", signed=True)


class Submission(Base):
    """One input file, identified by its content hash (a re-run resumes it)."""

    __tablename__ = "submissions"

    id: Mapped[str] = mapped_column(String(66), primary_key=True)
    file_sha256: Mapped[str] = mapped_column(String(66), index=True)
    policy: Mapped[str] = mapped_column(String(80))
    schema: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # open | complete
    #: Data rows of the file handled so far (accepted into a stored batch, or rejected).
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)


class Rejection(Base):
    """Why a row was refused: row number, field, reason — never the value."""

    __tablename__ = "rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(300))


class Batch(Base):
    """A Merkle tree of records and its anchor; the outbox row of the anchor tx."""

    __tablename__ = "batches"

    batch_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    #: The batch id's first 8 bytes as a signed integer: how the leaf indexes name it.
    batch_key: Mapped[int] = mapped_column(
        BigInteger,
        unique=True,
        default=lambda ctx: batch_key(ctx.get_current_parameters()["batch_id"]),
    )
    submission_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    kind: Mapped[int] = mapped_column(Integer)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(String(66), unique=True)
    manifest: Mapped[str] = mapped_column(Text)
    manifest_hash: Mapped[str] = mapped_column(String(66))
    first_row: Mapped[int] = mapped_column(Integer, default=0)
    last_row: Mapped[int] = mapped_column(Integer, default=0)
    #: pending -> (confirming ->) anchored; a reorg that drops the anchor's block
    #: sends a confirming batch back to pending (:class:`AnchorTx` keeps the dropped one).
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[str] = mapped_column(String(32))
    chain_id: Mapped[int | None] = mapped_column(BigInteger)
    registry_address: Mapped[str | None] = mapped_column("registry", String(42))
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_timestamp: Mapped[str | None] = mapped_column(String(32))
    seq: Mapped[int | None] = mapped_column(BigInteger)


class AnchorTx(Base):
    """One anchoring transaction of a batch as it was mined, with its block's hash.

    Kept apart from :class:`Batch` so that a store made before it opens unchanged.
    A confirming batch's row says which block to find it in; a reorg that drops that
    block stamps ``dropped_at`` and the batch is sent again, so the auditor can report
    every anchor a reorg undid.
    """

    __tablename__ = "anchor_txs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: No foreign key: this is a trail for the audit, which must still read it (and
    #: report the batch missing) when a batch row was deleted.
    batch_id: Mapped[str] = mapped_column(String(66), index=True)
    #: Not unique: a reorg may drop a block and mine the same transaction in another.
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66))
    recorded_at: Mapped[str] = mapped_column(String(32))
    dropped_at: Mapped[str | None] = mapped_column(String(32))


class Consent(Base):
    """A borrower's consent receipt, its on-chain commitment and its withdrawal.

    ``receipt`` is the RFC 8785 form of the receipt; ``commitment`` its SHA-256 as
    recorded on chain. The subject appears only as a keyed pseudonym, and not even
    that once erased (receipt and pseudonym are then None; the chain keeps only the
    unlinkable commitment).
    """

    __tablename__ = "consents"

    consent_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    subject_pseudonym: Mapped[str | None] = mapped_column(String(66), index=True, info=ERASABLE)
    receipt: Mapped[bytes | None] = mapped_column(LargeBinary, info=ERASABLE)
    commitment: Mapped[str] = mapped_column(String(66))
    #: Seconds since the epoch, as on chain; ``valid_until`` 0 means open-ended.
    valid_from: Mapped[int] = mapped_column(BigInteger)
    valid_until: Mapped[int] = mapped_column(BigInteger)
    supersedes: Mapped[str | None] = mapped_column(String(66))
    superseded_by: Mapped[str | None] = mapped_column(String(66))
    created_at: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | recorded
    chain_id: Mapped[int | None] = mapped_column(BigInteger)
    registry_address: Mapped[str | None] = mapped_column("registry", String(42))
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    #: Withdrawal: the first second it no longer holds, then its own outbox state.
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    revoke_status: Mapped[str | None] = mapped_column(String(16), index=True)
    revoke_tx_hash: Mapped[str | None] = mapped_column(String(66))
    revoke_block_number: Mapped[int | None] = mapped_column(BigInteger)
    erased_at: Mapped[str | None] = mapped_column(String(32))


class Inquiry(Base):
    """One consent check by a partner, granted or refused; sealed later into a kind-2 batch."""

    __tablename__ = "inquiries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inquiry_id: Mapped[str] = mapped_column(String(66), unique=True)
    institution: Mapped[str] = mapped_column(String(32), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    #: None once the subject is erased.
    subject_pseudonym: Mapped[str | None] = mapped_column(String(66), info=ERASABLE)
    purpose: Mapped[str] = mapped_column(String(32))
    consent_id: Mapped[str | None] = mapped_column(String(66))
    result: Mapped[str] = mapped_column(String(16))  # granted | refused
    reason: Mapped[str] = mapped_column(String(32))
    #: The instant the consent was checked for (ISO 8601 UTC).
    checked_at: Mapped[str] = mapped_column(String(32))
    #: When the check was made and logged (ISO 8601 UTC); sealing goes by this.
    logged_at: Mapped[str] = mapped_column(String(32))
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.batch_id"), index=True)
    leaf_index: Mapped[int | None] = mapped_column(Integer)


class Erasure(Base):
    """What an erasure did, kept without any personal data or pseudonym."""

    __tablename__ = "erasures"

    erasure_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    erased_at: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer)
    consents: Mapped[int] = mapped_column(Integer)
    inquiries: Mapped[int] = mapped_column(Integer)
    #: JSON list of the batch ids whose leaves were erased (the trees stay intact).
    batches: Mapped[str] = mapped_column(Text)


class Rebuild(Base):
    """This store was written by ``ledger audit --rebuild``: whose chain, as far as which block.

    An audit of such a store knows it holds only what the chain and the verified export
    prove (no unsealed alert, say), and says so; the row is the claim, shown in the report.
    """

    __tablename__ = "rebuilds"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: The last block replayed, and the anchor log head there.
    to_block: Mapped[int] = mapped_column(BigInteger)
    log_head: Mapped[str] = mapped_column(String(66))
    rebuilt_at: Mapped[str] = mapped_column(String(32))
