"""The alert log: alerts, delivery attempts and acknowledgements, anchored in kind-4 batches.

Every alert written to the outbox, every POST the dispatcher records and every
acknowledgement a bank makes is an entry of the log. :meth:`AlertLog.seal`
turns the unsealed ones into a batch exactly as the inquiry log is sealed
(:mod:`ledger.anchoring.logseal`: one store transaction makes the batch, its
leaves, and marks the rows), and the anchor outbox anchors it once, as kind 4.
Each leaf is the RFC 8785 form of one entry, made by :func:`alert_entry`,
:func:`attempt_entry` or :func:`ack_entry` (the audit recomputes them with the
same functions)::

    {"format": "credit-anchor/alert-log/v1", "entry": "alert", "entry_id": "msg_..",
     "alert_id": "msg_..", "institution": "9144..", "type": "overdue.entered",
     "body_hash": "0x..", "batch_id": "0x.." | null, "created_at": "..Z"}
    {"format": .., "entry": "attempt", "entry_id": "msg_../attempt/7", "alert_id": "msg_..",
     "attempt": 1, "at": "..Z", "status": 200 | null, "outcome": "delivered"}
    {"format": .., "entry": "ack", "entry_id": "msg_../ack", "alert_id": "msg_..",
     "institution": "9144..", "acknowledged_at": "..Z"}

No entry holds a personal value: bank codes, event types, ids, hashes and times
(the body is committed to by its SHA-256). An alert id is 128 random bits, so an
anchored root confirms no guessed entry and the entries need no salt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from ledger._failpoints import failpoint
from ledger.anchoring.logseal import Entry, seal_due, seal_entries
from ledger.chain.types import BatchKind
from ledger.store import Store
from ledger.store.alerts import Acknowledgement, Alert, DeliveryAttempt

ALERT_LOG_FORMAT: Final = "credit-anchor/alert-log/v1"
ALERT_LOG_SCHEMA: Final = "credit-anchor-alert-log/1"
#: Default sealing thresholds (whichever comes first), as the inquiry log's.
SEAL_SIZE: Final = 10_000
SEAL_SECONDS: Final = 60.0
#: One batch never holds more than this many entries.
MAX_BATCH: Final = 10_000

#: What an alert's, an attempt's and an acknowledgement's entry is made of.
ALERT_COLUMNS: Final = (
    Alert.seq,
    Alert.id,
    Alert.institution,
    Alert.type,
    Alert.body,
    Alert.batch_id,
    Alert.created_at,
)
ATTEMPT_COLUMNS: Final = (
    DeliveryAttempt.id,
    DeliveryAttempt.alert_id,
    DeliveryAttempt.attempt,
    DeliveryAttempt.started_at,
    DeliveryAttempt.status_code,
    DeliveryAttempt.outcome,
)
ACK_COLUMNS: Final = (
    Acknowledgement.alert_id,
    Acknowledgement.institution,
    Acknowledgement.acknowledged_at,
)


def alert_entry(row: Any) -> Entry:
    """The log entry of an alert row (with the :data:`ALERT_COLUMNS`)."""
    return row.id, {
        "format": ALERT_LOG_FORMAT,
        "entry": "alert",
        "entry_id": row.id,
        "alert_id": row.id,
        "institution": row.institution,
        "type": row.type,
        "body_hash": "0x" + hashlib.sha256(row.body).hexdigest(),
        "batch_id": row.batch_id,
        "created_at": row.created_at,
    }


def attempt_entry(row: Any) -> Entry:
    """The log entry of a delivery attempt row (with the :data:`ATTEMPT_COLUMNS`).

    Named by the row's id: a sender killed after its POST tries again under the
    same attempt number, and both tries are logged.
    """
    entry_id = f"{row.alert_id}/attempt/{row.id}"
    return entry_id, {
        "format": ALERT_LOG_FORMAT,
        "entry": "attempt",
        "entry_id": entry_id,
        "alert_id": row.alert_id,
        "attempt": row.attempt,
        "at": row.started_at,
        "status": row.status_code,
        "outcome": row.outcome,
    }


def ack_entry(row: Any) -> Entry:
    """The log entry of an acknowledgement row (with the :data:`ACK_COLUMNS`)."""
    entry_id = f"{row.alert_id}/ack"
    return entry_id, {
        "format": ALERT_LOG_FORMAT,
        "entry": "ack",
        "entry_id": entry_id,
        "alert_id": row.alert_id,
        "institution": row.institution,
        "acknowledged_at": row.acknowledged_at,
    }


class AlertLog:
    """Seals the alert log of one store; ``submitter`` is the anchoring account."""

    def __init__(self, store: Store, *, submitter: str) -> None:
        self.store = store
        self.submitter = submitter

    def unsealed(self) -> tuple[int, str | None]:
        """How many entries wait for a batch, and when the oldest was written."""
        counted = (
            (Alert.log_batch_id, Alert.created_at),
            (DeliveryAttempt.log_batch_id, DeliveryAttempt.started_at),
            (Acknowledgement.log_batch_id, Acknowledgement.acknowledged_at),
        )
        total, times = 0, []
        with self.store.session() as s:
            for sealed_in, written in counted:
                count, oldest = s.execute(
                    select(func.count(), func.min(written)).where(sealed_in.is_(None))
                ).one()
                total += int(count)
                if oldest is not None:
                    times.append(str(oldest))
        return total, min(times) if times else None

    def due(
        self, *, now: datetime | None = None, size: int = SEAL_SIZE, seconds: float = SEAL_SECONDS
    ) -> bool:
        """Whether unsealed entries reached ``size`` or the oldest is ``seconds`` old."""
        count, oldest = self.unsealed()
        return seal_due(count, oldest, now=now, size=size, seconds=seconds)

    def seal(self, *, limit: int = MAX_BATCH) -> str | None:
        """Put the oldest unsealed entries (up to ``limit``: alerts by sequence, then
        attempts, then acknowledgements) into one pending kind-4 batch; its id."""
        with self.store.session() as s, s.begin():
            alerts = _unsealed(s, ALERT_COLUMNS, (Alert.seq,), limit)
            attempts = _unsealed(s, ATTEMPT_COLUMNS, (DeliveryAttempt.id,), limit - len(alerts))
            acks = _unsealed(
                s,
                ACK_COLUMNS,
                (Acknowledgement.acknowledged_at, Acknowledgement.alert_id),
                limit - len(alerts) - len(attempts),
            )
            entries = [
                *map(alert_entry, alerts),
                *map(attempt_entry, attempts),
                *map(ack_entry, acks),
            ]
            if not entries:
                return None
            batch_id = seal_entries(
                s,
                entries,
                kind=int(BatchKind.ALERT_LOG),
                submitter=self.submitter,
                schema=ALERT_LOG_SCHEMA,
                key_ids={},
                first_row=alerts[0].seq if alerts else 0,
                last_row=alerts[-1].seq if alerts else 0,
            )
            index = 0
            for table, key, rows, row_key in (
                (Alert, Alert.seq, alerts, "seq"),
                (DeliveryAttempt, DeliveryAttempt.id, attempts, "id"),
                (Acknowledgement, Acknowledgement.alert_id, acks, "alert_id"),
            ):
                if rows:
                    s.connection().execute(
                        update(table)
                        .where(key == bindparam("row_key"))
                        .values(log_batch_id=batch_id, log_index=bindparam("index")),
                        [
                            {"row_key": getattr(row, row_key), "index": index + i}
                            for i, row in enumerate(rows)
                        ],
                    )
                    index += len(rows)
        failpoint("alerts-sealed")
        return batch_id


def _unsealed(s: Session, columns: Sequence[Any], order: Sequence[Any], limit: int) -> list[Any]:
    if limit <= 0:
        return []
    table = columns[0].class_
    return list(
        s.execute(
            select(*columns)
            .where(table.log_batch_id.is_(None))
            .order_by(*order)
            .limit(limit)
            .with_for_update()
        ).all()
    )
