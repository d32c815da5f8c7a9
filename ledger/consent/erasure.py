"""Erasure at the borrower's request (PIPL Art. 47), without touching the chain.

For one subject (found by the keyed pseudonym of their ID), one store
transaction

* drops the record and salt (the canonical bytes) and the record id of every
  credit-data leaf whose record carries that pseudonym, and of every sealed
  inquiry about them; the leaf *hashes* stay, so every other record of those
  batches still proves against its anchored root, while the erased hashes, with
  their salts gone, link to no one;
* drops the last state of each of their accounts that the risk alerts keep
  (it links the erased leaf hash to the account's figures);
* drops the subject's consent receipts and pseudonym (the on-chain commitments
  stay: salted hashes of receipts that no longer exist);
* unlinks their inquiries (who asked, why, when and with which result stays:
  a credit-reporting obligation; about whom does not);
* keeps an erasure record without any personal data or pseudonym.

Then the erased values leave the database's files too (:mod:`ledger.store.purge`:
SQLite's ``secure_delete`` and log truncation; PostgreSQL's ``VACUUM FULL`` of the
erased tables and removal of the WAL segments that held them). What could not be
cleared is in the report (``left_on_disk``), each with what an operator does.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ledger.chain.types import BatchKind
from ledger.errors import NotFoundError
from ledger.logs import event as log_event
from ledger.store import Consent, Erasure, Inquiry, Store, leaves
from ledger.store.accounts import AccountState, forget_states
from ledger.store.leaves.tables import LeafSegment
from ledger.store.purge import purge

log = logging.getLogger(__name__)

PSEUDONYM_FIELD: Final = "subject_pseudonym"
#: Where a record names its account (the default policy's output, which the risk
#: alerts' account states are keyed by; ledger.alerts.events.SOURCES, not imported:
#: the alerts read the consent package, not the other way round).
ACCOUNT_FIELD: Final = "account_pseudonym"


@dataclass(frozen=True)
class ErasureReport:
    erasure_id: str
    erased_at: str
    records: int
    consents: int
    inquiries: int
    batches: list[str]
    #: What of the erased values the database's files may still hold, and what clears it.
    left_on_disk: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "erasure_id": self.erasure_id,
            "erased_at": self.erased_at,
            "records": self.records,
            "consents": self.consents,
            "inquiries": self.inquiries,
            "batches": self.batches,
            "left_on_disk": list(self.left_on_disk),
        }


def erase_subject(store: Store, pseudonym: str, *, requested_by: str) -> ErasureReport:
    """Erase everything of the subject with ``pseudonym``; NotFoundError when nothing is there."""
    erased_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    needle = f'"{PSEUDONYM_FIELD}":"{pseudonym}"'.encode()
    with store.session() as s, s.begin():
        conn = s.connection()
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
        found: list[tuple[str, int]] = []
        accounts: set[str] = set()
        for leaf in leaves.scan(s, needle, kind=int(BatchKind.CREDIT_DATA)):
            record = json.loads(leaf.canonical or b"{}")
            if record.get(PSEUDONYM_FIELD) == pseudonym:  # exact, not just a substring
                found.append((leaf.batch_id, leaf.leaf_index))
                if isinstance(account := record.get(ACCOUNT_FIELD), str):
                    accounts.add(account)
        inquiries, inquiry_leaves = forget_subject(s, pseudonym)
        consents = erase_consents(s, pseudonym, erased_at)
        records = len(found)
        if not (records or consents or inquiries):
            raise NotFoundError("nothing is stored about this subject")
        leaves.erase_leaves(s, found + inquiry_leaves)
        # the alerts' last state of each account links its leaf hash to its figures
        states = forget_states(s, sorted(accounts)) if accounts else 0
        batches = sorted({b for b, _ in found + inquiry_leaves})
        report = ErasureReport(
            "0x" + os.urandom(32).hex(),
            erased_at,
            records,
            consents,
            inquiries,
            batches,
        )
        s.add(
            Erasure(
                erasure_id=report.erasure_id,
                erased_at=erased_at,
                requested_by=requested_by[:64],
                records=records,
                consents=consents,
                inquiries=inquiries,
                batches=json.dumps(batches),
            )
        )
    written = {
        LeafSegment.__tablename__: bool(found or inquiry_leaves),
        Inquiry.__tablename__: bool(inquiries),
        Consent.__tablename__: bool(consents),
        AccountState.__tablename__: bool(states),
    }
    left = purge(store, [table for table, touched in written.items() if touched])
    report = dataclasses.replace(report, left_on_disk=tuple(left))
    for what in left:
        log_event(
            log, "erased values left on disk", logging.WARNING, erasure_id=report.erasure_id,
            left=what,
        )  # fmt: skip
    log_event(
        log,
        "subject erased",
        erasure_id=report.erasure_id,
        records=records,
        consents=consents,
        inquiries=inquiries,
        left_on_disk=len(left),
    )
    return report


def forget_subject(s: Session, pseudonym: str) -> tuple[int, list[tuple[str, int]]]:
    """Unlink a subject's inquiries (erasure): how many, and the sealed leaves to erase."""
    rows = s.execute(
        select(Inquiry.batch_id, Inquiry.leaf_index).where(Inquiry.subject_pseudonym == pseudonym)
    ).all()
    s.execute(
        update(Inquiry).where(Inquiry.subject_pseudonym == pseudonym).values(subject_pseudonym=None)
    )
    return len(rows), [(b, i) for b, i in rows if b is not None and i is not None]


def erase_consents(s: Session, pseudonym: str, erased_at: str) -> int:
    """Drop a subject's receipts and pseudonym from the store (erasure); the count."""
    rows = list(s.scalars(select(Consent).where(Consent.subject_pseudonym == pseudonym)))
    for row in rows:
        row.receipt = None
        row.subject_pseudonym = None
        row.erased_at = erased_at
    return len(rows)


def erasures(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        rows = s.scalars(select(Erasure).order_by(Erasure.erased_at))
        return [
            {
                "erasure_id": r.erasure_id,
                "erased_at": r.erased_at,
                "requested_by": r.requested_by,
                "records": r.records,
                "consents": r.consents,
                "inquiries": r.inquiries,
                "batches": json.loads(r.batches),
            }
            for r in rows
        ]
