"""What the registries hold and emit, as plain values (no web3 needed to use them)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = ["AnchorEvent", "AnchorRecord", "BatchKind", "ConsentRecord"]


class BatchKind(IntEnum):
    """What an anchored batch holds (the contract's ``kind``)."""

    CREDIT_DATA = 1
    INQUIRY_LOG = 2
    CONSENT_RECEIPTS = 3
    ALERT_LOG = 4


@dataclass(frozen=True)
class AnchorRecord:
    """An anchor as the registry stores it."""

    root: bytes
    tree_size: int
    seq: int
    block_number: int
    timestamp: int
    kind: int


@dataclass(frozen=True)
class AnchorEvent:
    """One ``BatchAnchored`` event, with where it was mined."""

    batch_id: bytes
    root: bytes
    submitter: str
    tree_size: int
    kind: int
    manifest_hash: bytes
    seq: int
    log_head: bytes
    tx_hash: str
    block_number: int
    gas_used: int | None = None
    #: The hash of the block it was mined in: a reorg shows as another block there.
    block_hash: str | None = None


@dataclass(frozen=True)
class ConsentRecord:
    """A consent commitment as the registry stores it."""

    commitment: bytes
    valid_from: int
    valid_until: int
    revoked_at: int
    recorded_at: int
    recorded_block: int
