"""Recording consents and withdrawals on chain: whatever the store holds as pending.

A consent (or a withdrawal) is committed to the store as ``pending`` before its
transaction is sent; :func:`flush_pending` sends whatever is pending. The
registry ignores an identical re-record, so a flush after a crash at any point
records each consent exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select

from ledger._failpoints import failpoint
from ledger.chain.errors import ConsentAlreadyRecorded
from ledger.chain.registry import ConsentRegistryClient
from ledger.consent.receipt import unhex
from ledger.errors import ConflictError
from ledger.logs import event as log_event
from ledger.store import Consent, Store

log = logging.getLogger(__name__)

#: Consents recorded per ``recordConsents`` transaction.
RECORD_BATCH: Final = 200


@dataclass
class FlushReport:
    recorded: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)


def flush_pending(store: Store, registry: ConsentRegistryClient) -> FlushReport:
    """Record every pending consent and withdrawal on chain (idempotent, resumable)."""
    report = FlushReport()
    with store.session() as s:
        pending = list(
            s.scalars(
                select(Consent).where(Consent.status == "pending").order_by(Consent.created_at)
            )
        )
        revoking = list(s.scalars(select(Consent).where(Consent.revoke_status == "pending")))
    conflicts: list[str] = []
    for i in range(0, len(pending), RECORD_BATCH):
        chunk = pending[i : i + RECORD_BATCH]
        try:
            _record(store, registry, chunk, report)
        except ConsentAlreadyRecorded:  # one id is taken on chain: go one by one
            for c in chunk:
                try:
                    _record(store, registry, [c], report)
                except ConsentAlreadyRecorded:
                    conflicts.append(c.consent_id)
    for c in revoking:
        if c.status != "recorded" and c.consent_id not in report.recorded:
            continue  # recorded first, next flush withdraws it
        _withdraw(store, registry, c)
        report.revoked.append(c.consent_id)
    if conflicts:
        raise ConflictError(
            f"{len(conflicts)} consent id(s) are on chain with another commitment or "
            f"window, e.g. {conflicts[0]}; they stay pending",
            hint="run `ledger audit`",
        )
    return report


def _withdraw(store: Store, registry: ConsentRegistryClient, c: Consent) -> None:
    assert c.revoked_at is not None
    receipt = registry.revoke(unhex(c.consent_id), c.revoked_at)
    failpoint("revoke-mined")
    with store.session() as s, s.begin():
        row = s.get_one(Consent, c.consent_id)
        row.revoke_status = "recorded"
        row.revoke_tx_hash = receipt["transactionHash"].to_0x_hex()
        row.revoke_block_number = int(receipt["blockNumber"])
    log_event(log, "consent withdrawn", consent_id=c.consent_id)


def _record(
    store: Store, registry: ConsentRegistryClient, chunk: Sequence[Consent], report: FlushReport
) -> None:
    items = [(unhex(c.consent_id), unhex(c.commitment), c.valid_from, c.valid_until) for c in chunk]
    receipt = registry.record_many(items)
    failpoint("consent-mined")
    mined = {
        "0x" + bytes(e["args"]["consentId"]).hex(): e
        for e in registry.contract.events.ConsentRecorded().process_receipt(receipt)
    }
    for c in chunk:
        _mark_recorded(store, registry, c, mined.get(c.consent_id), receipt)
        report.recorded.append(c.consent_id)


def _mark_recorded(
    store: Store, registry: ConsentRegistryClient, c: Consent, mined: Any, receipt: Any
) -> None:
    on_chain = registry.status(unhex(c.consent_id))
    if on_chain is None or "0x" + on_chain.commitment.hex() != c.commitment:
        raise ConflictError(
            f"consent {c.consent_id} is on chain with another commitment",
            hint="run `ledger audit`",
        )
    if mined is not None:
        tx_hash, block = receipt["transactionHash"].to_0x_hex(), int(receipt["blockNumber"])
    else:  # recorded before a crash: find the transaction that did it
        logs = registry.chain.call_logs(
            registry.contract.events.ConsentRecorded(),
            on_chain.recorded_block,
            on_chain.recorded_block,
            filters={"consentId": unhex(c.consent_id)},
        )
        tx_hash = logs[0]["transactionHash"].to_0x_hex() if logs else None
        block = on_chain.recorded_block
    with store.session() as s, s.begin():
        row = s.get_one(Consent, c.consent_id)
        row.status = "recorded"
        row.chain_id = registry.chain.chain_id
        row.registry_address = registry.address
        row.tx_hash = tx_hash
        row.block_number = block
    log_event(log, "consent recorded", consent_id=c.consent_id, block=block)
