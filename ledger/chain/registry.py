"""Typed clients for the two registries, over any :class:`~ledger.chain.Chain`.

Values cross this boundary as Python types: ``bytes`` for bytes32, ``int`` for
integers, frozen dataclasses for structs and events. Nothing here knows whether
the chain is embedded or a remote node.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any

from web3 import Web3
from web3.types import TxReceipt

from ledger.chain.bulk_reads import raw_logs
from ledger.chain.connection import Chain
from ledger.chain.deploy import Deployment
from ledger.chain.types import AnchorEvent, AnchorRecord, BatchKind, ConsentRecord

# The plain values live in ledger.chain.types (no web3); still importable from here.
__all__ = [
    "STATUS_EVENTS",
    "AnchorEvent",
    "AnchorRecord",
    "AnchorRegistryClient",
    "BatchKind",
    "ConsentRecord",
    "ConsentRegistryClient",
]


def _anchor_event(args: Any, receipt: Any, gas_used: int | None = None) -> AnchorEvent:
    return AnchorEvent(
        batch_id=bytes(args["batchId"]),
        root=bytes(args["root"]),
        submitter=str(args["submitter"]).lower(),
        tree_size=int(args["treeSize"]),
        kind=int(args["kind"]),
        manifest_hash=bytes(args["manifestHash"]),
        seq=int(args["seq"]),
        log_head=bytes(args["logHead"]),
        tx_hash=receipt["transactionHash"].to_0x_hex(),
        block_number=int(receipt["blockNumber"]),
        gas_used=gas_used,
        block_hash=receipt["blockHash"].to_0x_hex(),
    )


class AnchorRegistryClient:
    """``AnchorRegistry`` at one address."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = address.lower()
        self.contract = chain.contract("AnchorRegistry", address)

    @classmethod
    def from_deployment(cls, chain: Chain, deployment: Deployment) -> AnchorRegistryClient:
        return cls(chain, deployment.anchor_registry)

    def anchor(
        self,
        batch_id: bytes,
        root: bytes,
        tree_size: int,
        kind: BatchKind,
        manifest_hash: bytes,
        *,
        preflight: bool = True,
    ) -> AnchorEvent:
        """Anchor one batch; returns its ``BatchAnchored`` event. ``preflight``: see
        :meth:`~ledger.chain.connection.Chain.transact`."""
        fn = self.contract.functions.anchor(batch_id, root, tree_size, int(kind), manifest_hash)
        receipt = self.chain.transact(fn, preflight=preflight)
        (event,) = self.events_in(receipt)
        return dataclasses.replace(event, gas_used=int(receipt["gasUsed"]))

    def events_in(self, receipt: TxReceipt) -> list[AnchorEvent]:
        """The ``BatchAnchored`` events this registry emitted in one transaction.

        Only logs from this address count: web3's ``process_receipt`` decodes every log
        whose topics fit the ABI, whichever contract emitted it, so another contract
        (a second registry, or one written to imitate it) could pass for this one.
        """
        event = self.contract.events.BatchAnchored()
        topic = bytes.fromhex(event.topic.removeprefix("0x"))
        return [
            _anchor_event(event.process_log(log)["args"], receipt)
            for log in receipt["logs"]
            if str(log["address"]).lower() == self.address
            and log["topics"]
            and bytes(log["topics"][0]) == topic
        ]

    def _record(self, raw: Any) -> AnchorRecord | None:
        root, tree_size, seq, block_number, timestamp, kind = raw
        if tree_size == 0:
            return None
        return AnchorRecord(bytes(root), tree_size, seq, block_number, timestamp, kind)

    def anchor_of(self, root: bytes) -> AnchorRecord | None:
        return self._record(self.chain.call(self.contract.functions.anchorOf(root)))

    def anchor_by_batch(self, batch_id: bytes) -> AnchorRecord | None:
        return self._record(self.chain.call(self.contract.functions.anchorByBatch(batch_id)))

    def log_head(self) -> bytes:
        return bytes(self.chain.call(self.contract.functions.logHead()))

    def anchor_count(self) -> int:
        return int(self.chain.call(self.contract.functions.anchorCount()))

    def verify_inclusion(
        self, leaf_hash: bytes, index: int, tree_size: int, proof: list[bytes], root: bytes
    ) -> bool:
        fn = self.contract.functions.verifyInclusion(leaf_hash, index, tree_size, proof, root)
        return bool(self.chain.call(fn))

    def is_anchored_leaf(
        self, leaf_hash: bytes, index: int, tree_size: int, proof: list[bytes], root: bytes
    ) -> bool:
        fn = self.contract.functions.isAnchoredLeaf(leaf_hash, index, tree_size, proof, root)
        return bool(self.chain.call(fn))

    def paused(self) -> bool:
        return bool(self.chain.call(self.contract.functions.paused()))

    def pause(self) -> TxReceipt:
        return self.chain.transact(self.contract.functions.pause())

    def unpause(self) -> TxReceipt:
        return self.chain.transact(self.contract.functions.unpause())

    def events(
        self, from_block: int, to_block: int | None = None, *, batch_id: bytes | None = None
    ) -> list[AnchorEvent]:
        """``BatchAnchored`` events in a block range (inclusive), optionally of one batch."""
        filters = None if batch_id is None else {"batchId": batch_id}
        logs = self.chain.call_logs(
            self.contract.events.BatchAnchored(), from_block, to_block, filters=filters
        )
        return [_anchor_event(log["args"], log) for log in logs]


#: The ConsentRegistry events after which a consent's status may read differently.
STATUS_EVENTS = ("ConsentRecorded", "ConsentRevoked")


class ConsentRegistryClient:
    """``ConsentRegistry`` at one address."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = address.lower()
        self.contract = chain.contract("ConsentRegistry", address)

    @classmethod
    def from_deployment(cls, chain: Chain, deployment: Deployment) -> ConsentRegistryClient:
        return cls(chain, deployment.consent_registry)

    def record(
        self, consent_id: bytes, commitment: bytes, valid_from: int, valid_until: int
    ) -> TxReceipt:
        fn = self.contract.functions.recordConsent(consent_id, commitment, valid_from, valid_until)
        return self.chain.transact(fn)

    def record_many(self, items: list[tuple[bytes, bytes, int, int]]) -> TxReceipt:
        """Record several consents in one all-or-nothing transaction."""
        columns: list[list[Any]] = [[], [], [], []]
        for item in items:
            for column, value in zip(columns, item, strict=True):
                column.append(value)
        ids, commitments, froms, untils = columns  # empty: the contract says EmptyBatch
        fn = self.contract.functions.recordConsents(ids, commitments, froms, untils)
        return self.chain.transact(fn)

    def revoke(self, consent_id: bytes, revoked_at: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.revokeConsent(consent_id, revoked_at))

    def status(self, consent_id: bytes) -> ConsentRecord | None:
        raw = self.chain.call(self.contract.functions.consentStatus(consent_id))
        commitment, valid_from, valid_until, revoked_at, recorded_at, recorded_block = raw
        if recorded_block == 0:
            return None
        return ConsentRecord(
            bytes(commitment), valid_from, valid_until, revoked_at, recorded_at, recorded_block
        )

    def changed(self, from_block: int, to_block: int) -> set[bytes] | None:
        """Consent ids whose status a block in ``[from_block, to_block]`` may have changed.

        From the registry's ``ConsentRecorded`` / ``ConsentRevoked`` logs (the id is
        their first indexed argument). None when the registry logged anything else
        there: then any status may have changed.
        """
        topics = self._status_topics
        changed: set[bytes] = set()
        for log in raw_logs(self.chain, [self.address], from_block, to_block):
            raw = log["topics"]
            first = [t if isinstance(t, bytes) else bytes.fromhex(t[2:]) for t in raw[:2]]
            if len(first) < 2 or first[0] not in topics:
                return None
            changed.add(first[1])
        return changed

    @cached_property
    def _status_topics(self) -> frozenset[bytes]:
        """topic0 of the two events that change a consent's status."""
        found = set()
        for entry in self.contract.abi:
            item: dict[str, Any] = dict(entry)
            if item.get("type") == "event" and item.get("name") in STATUS_EVENTS:
                types = ",".join(str(arg["type"]) for arg in item["inputs"])
                found.add(bytes(Web3.keccak(text=f"{item['name']}({types})")))
        assert len(found) == len(STATUS_EVENTS), "the ConsentRegistry ABI lost an event"
        return frozenset(found)

    def is_valid_at(self, consent_id: bytes, at: int) -> bool:
        return bool(self.chain.call(self.contract.functions.isValidAt(consent_id, at)))
