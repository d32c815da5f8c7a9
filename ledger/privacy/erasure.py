"""Erasure at the borrower's request (PIPL Art. 47), without touching the chain.

For one subject (found by the keyed pseudonym of their ID), one store
transaction

* drops the record and salt (the canonical bytes) and the record id of every
  credit-data leaf whose record carries that pseudonym, and of every sealed
  inquiry about them; the leaf *hashes* stay, so every other record of those
  batches still proves against its anchored root, while the erased hashes, with
  their salts gone, link to no one;
* drops the subject's consent receipts and pseudonym (the on-chain commitments
  stay: salted hashes of receipts that no longer exist);
* unlinks their inquiries (who asked, why, when and with which result stays:
  a credit-reporting obligation; about whom does not);
* keeps an erasure record without any personal data or pseudonym.

On SQLite, ``secure_delete`` zeroes the freed bytes and a WAL checkpoint
truncates the write-ahead log, so the erased bytes leave the files too.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, TextClause, func, select, text, update

from ledger.chain.registry import BatchKind
from ledger.errors import NotFoundError
from ledger.logs import event as log_event
from ledger.store import Batch, Erasure, Leaf, Store

log = logging.getLogger(__name__)

PSEUDONYM_FIELD: Final = "subject_pseudonym"
#: Candidate leaves are read in pages this size while scanning.
_PAGE: Final = 2000


@dataclass(frozen=True)
class ErasureReport:
    erasure_id: str
    erased_at: str
    records: int
    consents: int
    inquiries: int
    batches: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "erasure_id": self.erasure_id,
            "erased_at": self.erased_at,
            "records": self.records,
            "consents": self.consents,
            "inquiries": self.inquiries,
            "batches": self.batches,
        }


def erase_subject(store: Store, pseudonym: str, *, requested_by: str) -> ErasureReport:
    """Erase everything of the subject with ``pseudonym``; NotFoundError when nothing is there."""
    from ledger.consent.inquiries import forget_subject
    from ledger.consent.service import erase_consents

    erased_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    needle = f'"{PSEUDONYM_FIELD}":"{pseudonym}"'.encode()
    with store.session() as s, s.begin():
        conn = s.connection()
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
        leaves: list[tuple[str, int]] = []
        query = (
            select(Leaf.batch_id, Leaf.leaf_index, Leaf.canonical)
            .join(Batch, Batch.batch_id == Leaf.batch_id)
            .where(Batch.kind == int(BatchKind.CREDIT_DATA), _contains(conn.dialect.name, needle))
        )
        for batch_id, index, canonical in s.execute(query):
            record = json.loads(canonical or b"{}")
            if record.get(PSEUDONYM_FIELD) == pseudonym:  # exact, not just a substring
                leaves.append((batch_id, index))
        inquiries, inquiry_leaves = forget_subject(s, pseudonym)
        consents = erase_consents(s, pseudonym, erased_at)
        records = len(leaves)
        if not (records or consents or inquiries):
            raise NotFoundError("nothing is stored about this subject")
        for batch_id, index in leaves + inquiry_leaves:
            s.execute(
                update(Leaf)
                .where(Leaf.batch_id == batch_id, Leaf.leaf_index == index)
                .values(canonical=None, record_id=None)
            )
        batches = sorted({b for b, _ in leaves + inquiry_leaves})
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
    if sqlite:
        with store.engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    log_event(
        log,
        "subject erased",
        erasure_id=report.erasure_id,
        records=records,
        consents=consents,
        inquiries=inquiries,
    )
    return report


def _contains(dialect: str, needle: bytes) -> ColumnElement[bool] | TextClause:
    """Leaves whose bytes contain ``needle``, found by the database (a full scan)."""
    if dialect == "sqlite":
        return func.instr(Leaf.canonical, needle) > 0
    if dialect == "postgresql":
        return text("position(:needle in leaves.canonical) > 0").bindparams(needle=needle)
    return Leaf.canonical.is_not(None)  # any other database: every leaf, checked one by one


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
