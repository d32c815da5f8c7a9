"""The alert log in a rebuild: alert, delivery attempt and acknowledgement rows from the
verified leaves of the kind-4 batches.

Each exported alert-log record that passed every check is one entry of the log
(:mod:`ledger.alerts.alertlog`), filed at the place it was anchored. An entry commits
to its alert's body by hash only, so an alert is restored only with a body from the
platform's store that hashes to it (those bytes are then exactly the ones committed);
without one, the alert, its attempts and its acknowledgement are left out (rows
need their alert), and the audit of the rebuilt store says they were not rebuilt.
What no entry holds stays unknown: an attempt's target and duration, who
acknowledged and their note, the delivery state. An entry of an unexpected shape is
left out as well: the audit of the platform's store reports its rows.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.alerts.alertlog import ALERT_LOG_FORMAT
from ledger.store import Store
from ledger.store.alerts import Acknowledgement, Alert, DeliveryAttempt

UNKNOWN: Final = ""  # a column no entry holds
#: Alert ids per query for the platform's bodies.
LOOKUP_CHUNK: Final = 500
#: An attempt entry's id: its alert's id, then ``/attempt/`` and the row's own id.
_ROW_ID: Final = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    """A verified alert-log leaf: where it was anchored and what it logs."""

    batch_id: str
    leaf_index: int
    record: Mapping[str, Any]

    def text(self, name: str) -> str | None:
        value = self.record.get(name)
        return value if isinstance(value, str) else None

    def number(self, name: str) -> int | None:
        value = self.record.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_entry(record: Mapping[str, Any]) -> bool:
    return record.get("format") == ALERT_LOG_FORMAT


class AlertLogRebuild:
    """Collects the verified entries; :meth:`write` turns them into rows, in log order."""

    def __init__(self) -> None:
        self.entries: list[LoggedEntry] = []
        self.restored = 0

    def add(self, batch_id: str, leaf_index: int, record: Mapping[str, Any]) -> None:
        self.entries.append(LoggedEntry(batch_id, leaf_index, record))

    def write(self, s: Session, platform: Store | None, seqs: Mapping[str, int]) -> None:
        """Alerts first (their attempts and acknowledgement refer to them), each kind in
        the order it was anchored (``seqs``: each batch's anchor sequence number)."""
        ordered = sorted(self.entries, key=lambda e: (seqs[e.batch_id], e.leaf_index))
        kinds: dict[str, list[LoggedEntry]] = {"alert": [], "attempt": [], "ack": []}
        for entry in ordered:
            kinds.get(str(entry.record.get("entry")), []).append(entry)
        alerts = _alerts(kinds["alert"], _bodies(platform, kinds["alert"]))
        s.add_all(alerts)
        s.flush()
        known = {a.id for a in alerts}
        attempts = _attempts(kinds["attempt"], known)
        acks = _acks(kinds["ack"], known)
        s.add_all([*attempts, *acks])
        self.restored = len(alerts) + len(attempts) + len(acks)


def _bodies(platform: Store | None, alerts: list[LoggedEntry]) -> dict[str, bytes]:
    """The platform's body of each logged alert that hashes to the logged body hash."""
    if platform is None:
        return {}
    hashes = {e.text("alert_id"): e.text("body_hash") for e in alerts}
    ids = [i for i in hashes if i is not None]
    found: dict[str, bytes] = {}
    with platform.session() as s:
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[start : start + LOOKUP_CHUNK]
            for alert_id, body in s.execute(
                select(Alert.id, Alert.body).where(Alert.id.in_(chunk))
            ):
                if "0x" + hashlib.sha256(body).hexdigest() == hashes[alert_id]:
                    found[alert_id] = body
    return found


def _alerts(entries: Iterable[LoggedEntry], bodies: Mapping[str, bytes]) -> list[Alert]:
    out: list[Alert] = []
    seen: set[str] = set()
    for e in entries:
        alert_id, batch_id = e.text("alert_id"), e.record.get("batch_id")
        values = (e.text("institution"), e.text("type"), e.text("created_at"))
        if (
            alert_id is None
            or alert_id in seen
            or alert_id not in bodies
            or e.text("entry_id") != alert_id
            or not (batch_id is None or isinstance(batch_id, str))
            or None in values
        ):
            continue
        seen.add(alert_id)
        institution, kind, created_at = values
        out.append(
            Alert(
                id=alert_id, institution=institution, type=kind, body=bodies[alert_id],
                created_at=created_at, batch_id=batch_id,
                log_batch_id=e.batch_id, log_index=e.leaf_index,
            )
        )  # fmt: skip
    return out


def _attempts(entries: Iterable[LoggedEntry], alerts: set[str]) -> list[DeliveryAttempt]:
    out: list[DeliveryAttempt] = []
    seen: set[int] = set()
    for e in entries:
        alert_id = e.text("alert_id")
        row_id = _attempt_row(alert_id, e.text("entry_id"))
        attempt, at, outcome = e.number("attempt"), e.text("at"), e.text("outcome")
        status = e.record.get("status")
        if (
            alert_id not in alerts
            or row_id is None
            or row_id in seen
            or attempt is None
            or at is None
            or outcome is None
            or not (status is None or e.number("status") is not None)
        ):
            continue
        seen.add(row_id)
        out.append(
            DeliveryAttempt(
                id=row_id, alert_id=alert_id, attempt=attempt, started_at=at,
                status_code=status, error=None, outcome=outcome,
                duration_ms=0, target=UNKNOWN,  # neither is logged
                log_batch_id=e.batch_id, log_index=e.leaf_index,
            )
        )  # fmt: skip
    return out


def _attempt_row(alert_id: str | None, entry_id: str | None) -> int | None:
    """The row id an attempt entry names (:func:`~ledger.alerts.alertlog.attempt_entry`)."""
    prefix = f"{alert_id}/attempt/"
    if alert_id is None or entry_id is None or not entry_id.startswith(prefix):
        return None
    tail = entry_id.removeprefix(prefix)
    return int(tail) if _ROW_ID.fullmatch(tail) else None


def _acks(entries: Iterable[LoggedEntry], alerts: set[str]) -> list[Acknowledgement]:
    out: list[Acknowledgement] = []
    seen: set[str] = set()
    for e in entries:
        alert_id, institution, at = (
            e.text("alert_id"),
            e.text("institution"),
            e.text("acknowledged_at"),
        )
        if (
            alert_id is None
            or alert_id not in alerts
            or alert_id in seen
            or e.text("entry_id") != f"{alert_id}/ack"
            or institution is None
            or at is None
        ):
            continue
        seen.add(alert_id)
        out.append(
            Acknowledgement(
                alert_id=alert_id, institution=institution, acknowledged_at=at,
                acknowledged_by=UNKNOWN, note=None, log_batch_id=e.batch_id, log_index=e.leaf_index,
            )
        )  # fmt: skip
    return out
