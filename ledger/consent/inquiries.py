"""The inquiry log: every consent check, granted or refused, anchored in kind-2 batches.

An inquiry is committed to the store before its answer leaves (so a check that
was answered is never lost); :meth:`InquiryLog.seal` later turns the unsealed
ones, oldest first, into a batch (one store transaction: batch, leaves, and the
inquiries' batch ids; :mod:`ledger.anchoring.logseal`, shared with the alert
log), and the anchor :class:`~ledger.anchoring.outbox.Outbox` anchors it
exactly once, like a credit-data batch. Each leaf is the RFC 8785 form of::

    {"format": "credit-anchor/inquiry/v1", "inquiry_id": "0x..", "institution": "BANK-A",
     "subject_pseudonym": "0x.." | null, "purpose": "LOAN_APPROVAL",
     "consent_id": "0x.." | null, "result": "granted" | "refused", "reason": "valid",
     "checked_at": "..Z", "salt": "0x.."}

The salt keeps an anchored root from confirming a guessed inquiry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import bindparam, func, select, update

from ledger._failpoints import failpoint
from ledger.anchoring.logseal import seal_due, seal_entries
from ledger.chain.types import BatchKind
from ledger.consent.group_commit import Done, GroupCommit
from ledger.consent.receipt import iso, now_utc
from ledger.store import Inquiry, Store

INQUIRY_FORMAT: Final = "credit-anchor/inquiry/v1"
INQUIRY_SCHEMA: Final = "credit-anchor-inquiry/1"
#: Default sealing thresholds: whichever comes first. An anchor costs the same
#: for 1000 inquiries as for 10000, and sealing touches the same index pages:
#: per inquiry, a 10000-batch is a third of the work of a 1000-batch.
SEAL_SIZE: Final = 10_000
SEAL_SECONDS: Final = 60.0
#: One batch never holds more than this many inquiries.
MAX_BATCH: Final = 10_000


@dataclass(frozen=True, slots=True)
class InquiryEntry:
    """One inquiry as the API and CLI show it."""

    inquiry_id: str
    institution: str
    requested_by: str
    subject_pseudonym: str | None
    purpose: str
    consent_id: str | None
    result: str
    reason: str
    checked_at: str
    batch_id: str | None
    leaf_index: int | None

    @classmethod
    def of(cls, row: Inquiry) -> InquiryEntry:
        return cls(
            row.inquiry_id,
            row.institution,
            row.requested_by,
            row.subject_pseudonym,
            row.purpose,
            row.consent_id,
            row.result,
            row.reason,
            row.checked_at,
            row.batch_id,
            row.leaf_index,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "inquiry_id": self.inquiry_id,
            "institution": self.institution,
            "requested_by": self.requested_by,
            "subject_pseudonym": self.subject_pseudonym,
            "purpose": self.purpose,
            "consent_id": self.consent_id,
            "result": self.result,
            "reason": self.reason,
            "checked_at": self.checked_at,
            "batch_id": self.batch_id,
            "leaf_index": self.leaf_index,
        }


def inquiry_record(row: Any, salt: bytes) -> dict[str, Any]:
    """The leaf record of one inquiry (what its leaf hash commits to)."""
    return {
        "format": INQUIRY_FORMAT,
        "inquiry_id": row.inquiry_id,
        "institution": row.institution,
        "subject_pseudonym": row.subject_pseudonym,
        "purpose": row.purpose,
        "consent_id": row.consent_id,
        "result": row.result,
        "reason": row.reason,
        "checked_at": row.checked_at,
        "salt": "0x" + salt.hex(),
    }


#: What a sealed inquiry's leaf is made of.
_LEAF_COLUMNS: Final = (
    Inquiry.seq,
    Inquiry.inquiry_id,
    Inquiry.institution,
    Inquiry.subject_pseudonym,
    Inquiry.purpose,
    Inquiry.consent_id,
    Inquiry.result,
    Inquiry.reason,
    Inquiry.checked_at,
)


class InquiryLog:
    """Writes, seals and lists inquiries in one store."""

    def __init__(self, store: Store, *, submitter: str, key_ids: dict[str, str]) -> None:
        self.store = store
        self.submitter = submitter
        self.key_ids = key_ids
        self._writer = GroupCommit(store)

    def log(self, **fields: Any) -> dict[str, Any]:
        """Write one inquiry and return once it is committed (its row, as a dict)."""
        row = self.row(**fields)
        self.write(row)
        return row

    def write(self, row: dict[str, Any]) -> None:
        """Write ``row`` (from :meth:`row`); returns once it is committed."""
        self._writer.write(row)

    def submit(self, row: dict[str, Any], done: Done) -> None:
        """Write ``row`` (from :meth:`row`) on the writer thread; ``done(error)`` when durable."""
        self._writer.submit(row, done)

    def row(
        self,
        *,
        institution: str,
        requested_by: str,
        subject_pseudonym: str,
        purpose: str,
        consent_id: str | None,
        result: str,
        reason: str,
        checked_at: datetime,
    ) -> dict[str, Any]:
        """A new inquiry's row (not written yet)."""
        return {
            "inquiry_id": "0x" + os.urandom(32).hex(),
            "institution": institution,
            "requested_by": requested_by[:64],
            "subject_pseudonym": subject_pseudonym,
            "purpose": purpose,
            "consent_id": consent_id,
            "result": result,
            "reason": reason,
            "checked_at": iso(checked_at),
            "logged_at": iso(now_utc()),
        }

    def unsealed(self) -> tuple[int, str | None]:
        """How many inquiries wait for a batch, and when the oldest was logged."""
        with self.store.session() as s:
            count, oldest = s.execute(
                select(func.count(Inquiry.seq), func.min(Inquiry.logged_at)).where(
                    Inquiry.batch_id.is_(None)
                )
            ).one()
        return int(count), oldest

    def due(
        self, *, now: datetime | None = None, size: int = SEAL_SIZE, seconds: float = SEAL_SECONDS
    ) -> bool:
        """Whether unsealed inquiries reached ``size`` or the oldest is ``seconds`` old."""
        count, oldest = self.unsealed()
        return seal_due(count, oldest, now=now, size=size, seconds=seconds)

    def seal(self, *, limit: int = MAX_BATCH) -> str | None:
        """Put the oldest unsealed inquiries (up to ``limit``) into a pending batch.

        Core statements, not ORM objects: it runs beside live checks, whose
        commits wait while this transaction writes.
        """
        with self.store.session() as s, s.begin():
            rows = s.execute(
                select(*_LEAF_COLUMNS)
                .where(Inquiry.batch_id.is_(None))
                .order_by(Inquiry.seq)
                .limit(limit)
                .with_for_update()
            ).all()
            if not rows:
                return None
            batch_id = seal_entries(
                s,
                [(row.inquiry_id, inquiry_record(row, os.urandom(32))) for row in rows],
                kind=int(BatchKind.INQUIRY_LOG),
                submitter=self.submitter,
                schema=INQUIRY_SCHEMA,
                key_ids=self.key_ids,
                first_row=rows[0].seq,
                last_row=rows[-1].seq,
            )
            s.connection().execute(
                update(Inquiry)
                .where(Inquiry.seq == bindparam("row_seq"))
                .values(batch_id=batch_id, leaf_index=bindparam("index")),
                [{"row_seq": row.seq, "index": i} for i, row in enumerate(rows)],
            )
        failpoint("inquiries-sealed")
        return batch_id

    def entries(
        self,
        *,
        institution: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> tuple[list[InquiryEntry], int | None]:
        """Inquiries in order after cursor ``after``, and the next cursor (None at the end)."""
        query = select(Inquiry).where(Inquiry.seq > after).order_by(Inquiry.seq).limit(limit + 1)
        if institution is not None:
            query = query.where(Inquiry.institution == institution)
        with self.store.session() as s:
            rows = list(s.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        return [InquiryEntry.of(r) for r in rows], rows[-1].seq if more else None
