"""The anchor outbox: a batch is stored before its transaction is sent, and sent once.

Exactly-once leans on the registry: it refuses a reused batch id. So after any
crash, a pending batch is first looked up on chain by its id — if it is there
(the process died after the transaction was mined but before the store heard
of it) the store just catches up; otherwise it is sent now. A batch id found on
chain with a different root or size is tampering or a bug, never papered over.

Finality: on a chain that needs confirmations (``ChainSide.confirmations`` > 0)
a mined anchor leaves its batch *confirming*, with the block it was mined in
(:class:`~ledger.store.AnchorTx`). :meth:`Outbox.confirm` promotes it once that
many blocks are on top, or, if the block is no longer the chain's (a reorg),
marks the anchor dropped and puts the batch back to pending: the next send looks
it up by id first, so a transaction the new chain did include is found, not
anchored twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger._failpoints import failpoint
from ledger.chain.errors import BatchAlreadyAnchored
from ledger.chain.types import AnchorEvent, AnchorRecord, BatchKind
from ledger.errors import IntegrityError
from ledger.logs import event as log_event
from ledger.store import AnchorTx, Batch, Store

if TYPE_CHECKING:  # the submitter leaves the chain stack to its helper process
    from ledger.chain.registry import AnchorRegistryClient

log = logging.getLogger(__name__)

#: How often :meth:`Outbox.settle` looks at the chain while batches confirm.
CONFIRM_POLL_SECONDS = 0.5


def iso_utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def unhex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


@dataclass(frozen=True)
class AnchoredBatch:
    """What the outbox reports for one anchored batch."""

    batch_id: str
    root: str
    tree_size: int
    tx_hash: str
    block_number: int
    resumed: bool
    #: ``anchored``, or ``confirming`` while the chain's confirmations are awaited.
    status: str = "anchored"


@dataclass(frozen=True)
class Sent:
    """A batch whose anchor is on chain, not yet recorded in the store."""

    batch: Batch
    event: AnchorEvent
    block_timestamp: str
    resumed: bool


@dataclass(frozen=True)
class BatchAnchor:
    """What the chain half of an anchor needs of a stored batch."""

    batch_id: str
    root: str
    tree_size: int
    kind: int
    manifest_hash: str

    @classmethod
    def of(cls, batch: Batch) -> BatchAnchor:
        return cls(batch.batch_id, batch.root, batch.tree_size, batch.kind, batch.manifest_hash)


class ChainSide(Protocol):
    """The chain half of the outbox: where anchors go (this process, or a helper one)."""

    @property
    def chain_id(self) -> int: ...

    @property
    def registry_address(self) -> str: ...

    @property
    def confirmations(self) -> int:
        """Blocks on top of an anchor's block before its batch counts as anchored."""
        ...

    def anchor(self, batch: BatchAnchor, *, fresh: bool) -> tuple[AnchorEvent, str, bool]:
        """The batch's anchor event, its block's time and whether it was on chain already."""
        ...

    def inclusions(self, tx_hashes: Sequence[str]) -> tuple[int, dict[str, str | None]]:
        """The head's number, and the hash of the block each transaction is mined in
        now (None: not mined, or failed)."""
        ...


class RegistrySide:
    """:class:`ChainSide` over an AnchorRegistry client in this process."""

    def __init__(self, registry: AnchorRegistryClient) -> None:
        self.registry = registry

    @property
    def chain_id(self) -> int:
        return self.registry.chain.chain_id

    @property
    def registry_address(self) -> str:
        return self.registry.address

    @property
    def confirmations(self) -> int:
        return self.registry.chain.confirmations

    def inclusions(self, tx_hashes: Sequence[str]) -> tuple[int, dict[str, str | None]]:
        chain = self.registry.chain
        head = chain.block_number()
        found: dict[str, str | None] = {}
        for tx_hash in tx_hashes:
            receipt = chain.receipt(unhex(tx_hash))
            ok = receipt is not None and receipt["status"] == 1
            found[tx_hash] = receipt["blockHash"].to_0x_hex() if ok and receipt else None
        return head, found

    def anchor(self, batch: BatchAnchor, *, fresh: bool) -> tuple[AnchorEvent, str, bool]:
        """The batch's anchor, sent now or found on chain (looked up first unless ``fresh``)."""
        bid, root = unhex(batch.batch_id), unhex(batch.root)
        on_chain = None if fresh else self.registry.anchor_by_batch(bid)
        resumed = on_chain is not None
        if on_chain is None:
            try:
                # A fresh batch's id is new and random: the registry refusing it is
                # left to the (mined, failed) transaction instead of a preflight call.
                event = self.registry.anchor(
                    bid, root, batch.tree_size, BatchKind(batch.kind),
                    unhex(batch.manifest_hash), preflight=not fresh,
                )  # fmt: skip
            except BatchAlreadyAnchored:  # another worker won the race
                resumed = True
            else:
                failpoint("anchor-mined")
                return event, self._timestamp(event), False
            on_chain = self.registry.anchor_by_batch(bid)
        assert on_chain is not None
        _check_same(batch, on_chain)
        (event,) = self.registry.events(on_chain.block_number, on_chain.block_number, batch_id=bid)
        return event, self._timestamp(event), resumed

    def _timestamp(self, event: AnchorEvent) -> str:
        block = self.registry.chain.w3.eth.get_block(event.block_number)
        return iso_utc(int(block["timestamp"]))


def _check_same(batch: BatchAnchor, on_chain: AnchorRecord) -> None:
    if hx(on_chain.root) != batch.root or on_chain.tree_size != batch.tree_size:
        raise IntegrityError(
            f"batch {batch.batch_id} is anchored with root {hx(on_chain.root)} "
            f"(size {on_chain.tree_size}) but the store has {batch.root} "
            f"(size {batch.tree_size})",
            hint="run `ledger audit`; do not re-anchor",
        )


def recorded_anchors(store: Store, batch_ids: Sequence[str]) -> list[AnchoredBatch] | None:
    """These batches' anchors as the store recorded them, in this order; None while any is
    pending (another process, the anchor sender, anchors them)."""
    with store.session() as s:
        rows = {
            b.batch_id: b for b in s.scalars(select(Batch).where(Batch.batch_id.in_(batch_ids)))
        }
    out = []
    for batch_id in batch_ids:
        row = rows[batch_id]
        if row.status != "anchored" or row.tx_hash is None or row.block_number is None:
            return None
        out.append(
            AnchoredBatch(row.batch_id, row.root, row.tree_size, row.tx_hash, row.block_number,
                          resumed=False)
        )  # fmt: skip
    return out


class Outbox:
    """Sends pending batches to the AnchorRegistry and records their anchors.

    ``chain`` sends them: a :class:`RegistrySide` over a client in this process,
    or the helper process of :mod:`ledger.anchoring.chain_process`. ``kinds``:
    the batch kinds this outbox sends (None: all), when a deployment anchors
    some kinds at another registry (:attr:`~ledger.chain.Deployment.anchor_kinds`).
    """

    def __init__(
        self,
        store: Store,
        chain: ChainSide,
        from_block: int,
        *,
        kinds: frozenset[int] | None = None,
    ) -> None:
        self.store = store
        self.chain = chain
        self.from_block = from_block
        self.kinds = kinds

    def pending(self) -> list[str]:
        return self._with_status("pending")

    def confirming(self) -> list[str]:
        return self._with_status("confirming")

    def _with_status(self, status: str) -> list[str]:
        """This outbox's batches in ``status``, oldest first."""
        query = select(Batch.batch_id).where(Batch.status == status)
        if self.kinds is not None:
            query = query.where(Batch.kind.in_(sorted(self.kinds)))
        with self.store.session() as s:
            return list(s.scalars(query.order_by(Batch.created_at)))

    def drain(self) -> Iterator[AnchoredBatch]:
        """Settle what confirms (:meth:`confirm`), then anchor every pending batch, oldest first."""
        self.confirm()
        for batch_id in self.pending():
            yield self.anchor(batch_id)

    def confirm(self) -> tuple[list[str], list[str]]:
        """Look at every confirming batch's block: promote the ones deep enough, send the
        ones a reorg dropped back to pending. Returns (anchored, dropped) batch ids."""
        ids = self.confirming()
        if not ids:
            return [], []
        with self.store.session() as s:
            rows = {
                b.batch_id: b.tx_hash
                for b in s.scalars(select(Batch).where(Batch.batch_id.in_(ids)))
            }
        head, found = self.chain.inclusions(sorted({t for t in rows.values() if t}))
        anchored, dropped = [], []
        with self.store.session() as s, s.begin():
            for batch_id in ids:
                batch = s.get_one(Batch, batch_id)
                if batch.status != "confirming" or batch.tx_hash != rows[batch_id]:
                    continue  # another process moved it on meanwhile
                tx = _live_tx(s, batch)
                if tx is None or found.get(tx.tx_hash) != tx.block_hash:
                    _drop(batch, tx)
                    dropped.append(batch_id)
                elif head - tx.block_number >= self.chain.confirmations:
                    batch.status = "anchored"
                    anchored.append(batch_id)
        for batch_id in dropped:
            log_event(log, "anchor dropped by a reorg", level=logging.WARNING, batch_id=batch_id)
        for batch_id in anchored:
            log_event(log, "batch confirmed", batch_id=batch_id)
        return anchored, dropped

    def settle(self, timeout: float) -> None:
        """Confirm (and re-send what a reorg dropped) until no batch is confirming, or for
        ``timeout`` seconds; what is left stays confirming for a later :meth:`drain`."""
        deadline = time.monotonic() + timeout
        while True:
            for _ in self.drain():
                pass
            if not self.confirming() or time.monotonic() >= deadline:
                return
            time.sleep(CONFIRM_POLL_SECONDS)

    def current(self, batches: Sequence[AnchoredBatch]) -> list[AnchoredBatch]:
        """``batches`` as the store has them now (status, and the anchor a re-send made)."""
        with self.store.session() as s:
            rows = {b.batch_id: b for b in s.scalars(
                select(Batch).where(Batch.batch_id.in_([a.batch_id for a in batches]))
            )}  # fmt: skip
        return [
            replace(a, status=row.status, tx_hash=row.tx_hash or "",
                    block_number=row.block_number or 0)
            if (row := rows.get(a.batch_id)) is not None else a
            for a in batches
        ]  # fmt: skip

    def anchor(self, batch_id: str, *, fresh: bool = False) -> AnchoredBatch:
        """Anchor one stored batch unless the chain already has it; record the result.

        ``fresh`` says this process made the batch (with a new random id) and has
        not sent it yet, so the look-up on chain is skipped: the registry still
        refuses a reused id, which lands in the same checks as a found one.
        """
        (done,) = self.record([self.send(batch_id, fresh=fresh)])
        return done

    def send(self, batch_id: str, *, fresh: bool = False) -> Sent:
        """The chain half of :meth:`anchor`: the batch's anchor, sent now or found on chain.

        Nothing is written to the store: until :meth:`record` runs, the batch stays
        pending, and a later :meth:`drain` finds its anchor by batch id.
        """
        with self.store.session() as s:
            batch = s.get_one(Batch, batch_id)
        event, timestamp, resumed = self.chain.anchor(BatchAnchor.of(batch), fresh=fresh)
        if hx(event.root) != batch.root or event.tree_size != batch.tree_size:
            raise IntegrityError(f"anchor event of {batch.batch_id} does not match the store")
        return Sent(batch, event, timestamp, resumed)

    def record(self, sent: Sequence[Sent]) -> list[AnchoredBatch]:
        """The store half of :meth:`anchor`: mark these batches anchored (or confirming,
        on a chain that needs confirmations), in one transaction."""
        if not sent:
            return []
        status = "confirming" if self.chain.confirmations > 0 else "anchored"
        now = iso_utc(int(time.time()))
        with self.store.session() as s, s.begin():
            for one in sent:
                row = s.get_one(Batch, one.batch.batch_id)
                row.status = status
                row.chain_id = self.chain.chain_id
                row.registry_address = self.chain.registry_address
                row.tx_hash = one.event.tx_hash
                row.block_number = one.event.block_number
                row.block_timestamp = one.block_timestamp
                row.seq = one.event.seq
                s.add(
                    AnchorTx(batch_id=row.batch_id, tx_hash=one.event.tx_hash,
                             block_number=one.event.block_number,
                             block_hash=one.event.block_hash or "", recorded_at=now)
                )  # fmt: skip
        out = []
        for one in sent:
            batch, event = one.batch, one.event
            log_event(
                log,
                "batch anchored",
                batch_id=batch.batch_id,
                root=batch.root,
                tree_size=batch.tree_size,
                tx_hash=event.tx_hash,
                block=event.block_number,
                gas=event.gas_used,
                resumed=one.resumed,
                status=status,
            )
            out.append(
                AnchoredBatch(batch.batch_id, batch.root, batch.tree_size, event.tx_hash,
                              event.block_number, one.resumed, status)
            )  # fmt: skip
        return out


def _live_tx(s: Session, batch: Batch) -> AnchorTx | None:
    """The batch's recorded anchoring transaction that no reorg has dropped yet."""
    query = (
        select(AnchorTx)
        .where(AnchorTx.batch_id == batch.batch_id, AnchorTx.tx_hash == batch.tx_hash)
        .where(AnchorTx.dropped_at.is_(None))
        .order_by(AnchorTx.id.desc())
    )
    return s.scalars(query).first()


def _drop(batch: Batch, tx: AnchorTx | None) -> None:
    """A reorg took the anchor's block: keep the dropped transaction, send the batch again."""
    if tx is not None:
        tx.dropped_at = iso_utc(int(time.time()))
    batch.status = "pending"
    batch.tx_hash = batch.block_timestamp = None
    batch.block_number = batch.seq = None
