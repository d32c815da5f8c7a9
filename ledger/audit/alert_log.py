"""The store's alert log against its kind-4 anchors, and every alert answered in time.

Each alert, delivery attempt and acknowledgement row names the place the alert
log sealed it (batch, leaf index). Its entry is recomputed from the row by the
log's own functions (:mod:`ledger.alerts.alertlog`) and hashed into a leaf,
which must be the anchored leaf at that place. So:

- an anchored leaf no row claims is a deleted entry (``ALERT_LOG_ENTRY_MISSING``);
- a row whose leaf differs from the anchored one was altered
  (``ALERT_LOG_ENTRY_MISMATCH``);
- a row claiming a place that logs another entry, or a place no anchored
  batch has, was added (``ALERT_LOG_ENTRY_ADDED``). Rows sealed into a batch
  whose anchor is still pending are left for the next audit.

The store's leaf hashes stand for the anchored ones here: the batch pass
(:mod:`ledger.audit.store_checks`) has rebuilt them into the anchored root.

Every alert must also have been delivered to its bank's webhook (a logged
attempt with outcome ``delivered``) or acknowledged by the bank within the risk
plan's ``[delivery] window_hours`` of the moment it could first be sent: its
creation, or its batch's anchor block if that came later (``ALERT_UNANSWERED``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.alerts.alertlog import (
    ACK_COLUMNS,
    ALERT_COLUMNS,
    ATTEMPT_COLUMNS,
    ack_entry,
    alert_entry,
    attempt_entry,
)
from ledger.anchoring.logseal import Entry
from ledger.audit.findings import AuditReport
from ledger.audit.replay import ChainState, hx
from ledger.chain.types import BatchKind
from ledger.proofs import canonical_records
from ledger.store import Batch, leaves
from ledger.store.alerts import Acknowledgement, Alert, DeliveryAttempt

#: The log's tables: the columns an entry is made of, and how.
_TABLES: Final[tuple[tuple[Any, Sequence[Any], Callable[[Any], Entry]], ...]] = (
    (Alert, ALERT_COLUMNS, alert_entry),
    (DeliveryAttempt, ATTEMPT_COLUMNS, attempt_entry),
    (Acknowledgement, ACK_COLUMNS, ack_entry),
)
_TIME: Final = "%Y-%m-%dT%H:%M:%SZ"

#: A row's claim on a place: its entry id and the leaf hash of its recomputed entry.
Claim = tuple[str, bytes]


def _alert_of(entry_id: str) -> str:
    return entry_id.split("/", 1)[0]


def _claims(s: Session) -> dict[str, dict[int, list[Claim]]]:
    """Every sealed row's place (batch, leaf index) and the leaf its entry makes, as the
    store holds it now."""
    claims: dict[str, dict[int, list[Claim]]] = {}
    for table, columns, entry in _TABLES:
        rows = (
            s.connection()
            .execute(
                select(*columns, table.log_batch_id, table.log_index).where(
                    table.log_batch_id.is_not(None)
                )
            )
            .all()
        )
        entries = [entry(row) for row in rows]
        datas = canonical_records([record for _, record in entries])
        for row, (entry_id, _), data in zip(rows, entries, datas, strict=True):
            leaf = hashlib.sha256(b"\x00" + data).digest()
            at = claims.setdefault(row.log_batch_id, {})
            at.setdefault(int(row.log_index), []).append((entry_id, leaf))
    return claims


def check_log(s: Session, state: ChainState, report: AuditReport, *, rebuilt: bool = False) -> None:
    """Every anchored alert-log leaf is the entry of exactly the row sealed at its place.

    The places judged are the leaves the store holds and the places rows claim, never
    more than the anchored tree size: a leaf the store lacks altogether is the batch
    pass's ``LEAF_MISSING``.
    """
    claims = _claims(s)
    anchored = [a for a in state.anchors.values() if a.kind == BatchKind.ALERT_LOG]
    checked = 0
    for anchor in sorted(anchored, key=lambda a: a.seq):
        hashes = leaves.batch_hash_map(s, anchor.batch_id)
        claimed = claims.get(anchor.batch_id, {})
        for index in sorted(i for i in {*hashes, *claimed} if i < anchor.tree_size):
            checked += 1
            _judge(
                anchor.batch_id, index, hashes.get(index), claimed.pop(index, []), report, rebuilt
            )
    pending = set(
        s.scalars(select(Batch.batch_id).where(Batch.kind == int(BatchKind.ALERT_LOG)))
    ) - {a.batch_id for a in anchored}
    for batch_id, places in sorted(claims.items()):
        if batch_id in pending:
            continue  # sealed; its anchor is not on chain yet (the batch pass says why)
        for index, rest in sorted(places.items()):
            for entry_id, leaf in rest:
                report.add(
                    "ALERT_LOG_ENTRY_ADDED",
                    batch_id=batch_id,
                    leaf_index=index,
                    alert_id=_alert_of(entry_id),
                    expected=None,
                    found=hx(leaf),
                )
    report.checked["alert_log_entries"] = checked


def _judge(
    batch_id: str,
    index: int,
    anchored: bytes | None,
    claimed: list[Claim],
    report: AuditReport,
    rebuilt: bool,
) -> None:
    where: dict[str, Any] = {"batch_id": batch_id, "leaf_index": index}
    expected = None if anchored is None else hx(anchored)
    if not claimed:
        # A rebuild restores no alert whose body it could not prove, nor its other entries.
        code = "ALERT_NOT_REBUILT" if rebuilt else "ALERT_LOG_ENTRY_MISSING"
        report.add(code, **where, expected=expected)
        return
    matching = [c for c in claimed if c[1] == anchored]
    others = [c for c in claimed if c[1] != anchored]
    if not matching:  # one row stands for the entry and was altered; more were added
        (entry_id, leaf), *others = others
        report.add(
            "ALERT_LOG_ENTRY_MISMATCH",
            **where,
            alert_id=_alert_of(entry_id),
            expected=expected,
            found=hx(leaf),
        )
    for entry_id, leaf in [*matching[1:], *others]:
        report.add(
            "ALERT_LOG_ENTRY_ADDED",
            **where,
            alert_id=_alert_of(entry_id),
            expected=expected,
            found=hx(leaf),
        )


def check_window(
    s: Session,
    report: AuditReport,
    *,
    window_hours: int,
    now: datetime | None = None,
    rebuilt: bool = False,
) -> None:
    """Every alert was delivered or acknowledged within the window after it could be sent.

    An alert about a batch goes out only once that batch is anchored: its window starts
    at the later of its creation and its batch's anchor block, and an alert whose batch
    is not anchored yet is not late. An alert of no batch (a plan's) starts at creation.
    In a rebuilt store an answer may be one the log has not sealed yet: an alert with
    none past its window is ``ALERT_NOT_REBUILT``; an answer logged too late is late.
    """
    delivered = (
        select(DeliveryAttempt.alert_id, func.min(DeliveryAttempt.started_at).label("delivered"))
        .where(DeliveryAttempt.outcome == "delivered")
        .group_by(DeliveryAttempt.alert_id)
        .subquery()
    )
    rows = s.execute(
        select(
            Alert.id,
            Alert.created_at,
            delivered.c.delivered,
            Acknowledgement.acknowledged_at,
            Alert.batch_id,
            Batch.block_timestamp,
        )
        .outerjoin(delivered, delivered.c.alert_id == Alert.id)
        .outerjoin(Acknowledgement, Acknowledgement.alert_id == Alert.id)
        .outerjoin(Batch, Batch.batch_id == Alert.batch_id)
        .order_by(Alert.seq)
    ).all()
    report.checked["alerts_answered_in_time"] = 0
    if not rows:
        return
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    window = timedelta(hours=window_hours)
    names = ("id", "created", "delivered", "acked", "batch", "anchored")
    times = pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), orient="row").with_columns(
        pl.col(name).str.to_datetime(_TIME, strict=False)
        for name in ("created", "delivered", "acked", "anchored")
    )
    sendable = (
        pl.when(pl.col("batch").is_null())
        .then(pl.col("created"))
        .when(pl.col("anchored").is_not_null())
        .then(pl.max_horizontal("created", "anchored"))
    )
    judged = times.with_columns(
        pl.min_horizontal("delivered", "acked").alias("answered"),
        (sendable + window).alias("deadline"),
    )
    late = judged.filter(
        pl.col("deadline").is_not_null()
        & (
            pl.col("answered").is_null() & (pl.col("deadline") < moment)
            | (pl.col("answered") > pl.col("deadline"))
        )
    )
    for alert_id, deadline, answered in late.select("id", "deadline", "answered").iter_rows():
        report.add(
            "ALERT_NOT_REBUILT" if rebuilt and answered is None else "ALERT_UNANSWERED",
            alert_id=alert_id,
            expected=f"by {deadline.strftime(_TIME)}",
            found=None if answered is None else answered.strftime(_TIME),
        )
    report.checked["alerts_answered_in_time"] = judged.height - late.height
