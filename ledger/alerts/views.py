"""Alerts as people read them: each with where its delivery and acknowledgement stand.

What a reader may see is decided by which reader it calls, never by a flag:

- a bank (a partner key) reads through :func:`bank_page` and :func:`bank_alert`,
  which go through :func:`~ledger.alerts.outbox.alerts_after` and
  :func:`~ledger.alerts.outbox.get_alert`: its own alerts only, and the same
  :class:`~ledger.alerts.errors.UnknownAlertError` for another bank's as for none;
- the operator and auditors read every bank's through :func:`every_bank_page`
  and :func:`any_alert` (or one bank's through the bank readers).

Bodies stay the stored bytes (the exact webhook body); :meth:`AlertView.to_json`
leaves them out so each caller adds them in its own form (parsed, or as a JSON
fragment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.alerts.deliveries import AttemptInfo, delivery_status
from ledger.alerts.outbox import (
    StoredAlert,
    alerts_after,
    every_alert_after,
    find_alert,
    get_alert,
)
from ledger.store.alerts import Acknowledgement, AlertDelivery


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """Where the push of an alert to its bank's webhook stands."""

    state: str  # pending | delivered | failed | disabled
    attempts: int
    delivered_at: str | None
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "attempts": self.attempts,
            "delivered_at": self.delivered_at,
            "last_error": self.last_error,
        }


@dataclass(frozen=True, slots=True)
class AckView:
    acknowledged_at: str
    acknowledged_by: str
    note: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "acknowledged_at": self.acknowledged_at,
            "acknowledged_by": self.acknowledged_by,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert, its delivery (None: its bank has no webhook, it pulls) and its ack."""

    alert: StoredAlert
    delivery: DeliveryView | None
    ack: AckView | None

    def to_json(self) -> dict[str, Any]:
        """Everything but the body."""
        a = self.alert
        return {
            "id": a.id,
            "seq": a.seq,
            "institution": a.institution,
            "type": a.type,
            "created_at": a.created_at,
            "batch_id": a.batch_id,
            "delivery": None if self.delivery is None else self.delivery.to_json(),
            "ack": None if self.ack is None else self.ack.to_json(),
        }


@dataclass(frozen=True, slots=True)
class AlertDetail:
    """One alert with every delivery attempt so far, oldest first."""

    view: AlertView
    history: tuple[AttemptInfo, ...]

    def to_json(self) -> dict[str, Any]:
        """Everything but the body, with ``attempts``."""
        attempts = [
            {"attempt": a.attempt, "started_at": a.started_at, "duration_ms": a.duration_ms,
             "target": a.target, "status_code": a.status_code, "error": a.error,
             "outcome": a.outcome}
            for a in self.history
        ]  # fmt: skip
        return {**self.view.to_json(), "attempts": attempts}


def bank_page(session: Session, institution: str, after: int, limit: int) -> list[AlertView]:
    """The bank's own alerts after cursor ``after``, oldest first, with their states."""
    return with_states(session, alerts_after(session, institution, after, limit))


def every_bank_page(session: Session, after: int, limit: int) -> list[AlertView]:
    """Every bank's alerts after ``after``: the operator's and auditors' view."""
    return with_states(session, every_alert_after(session, after, limit))


def bank_alert(session: Session, institution: str, alert_id: str) -> AlertDetail:
    """The bank's own alert ``alert_id``; :class:`UnknownAlertError` for any other."""
    return _detail(session, get_alert(session, institution, alert_id))


def any_alert(session: Session, alert_id: str) -> AlertDetail:
    """Alert ``alert_id`` of any bank (the operator's and auditors' look-up)."""
    return _detail(session, find_alert(session, alert_id))


def with_states(session: Session, alerts: Sequence[StoredAlert]) -> list[AlertView]:
    """``alerts`` with their delivery and acknowledgement (two queries, whatever the count)."""
    ids = [a.id for a in alerts]
    if not ids:
        return []
    deliveries = {
        row.alert_id: DeliveryView(row.state, row.attempts, row.delivered_at, row.last_error)
        for row in session.execute(
            select(
                AlertDelivery.alert_id,
                AlertDelivery.state,
                AlertDelivery.attempts,
                AlertDelivery.delivered_at,
                AlertDelivery.last_error,
            ).where(AlertDelivery.alert_id.in_(ids))
        )
    }
    acks = {
        row.alert_id: AckView(row.acknowledged_at, row.acknowledged_by, row.note)
        for row in session.execute(
            select(
                Acknowledgement.alert_id,
                Acknowledgement.acknowledged_at,
                Acknowledgement.acknowledged_by,
                Acknowledgement.note,
            ).where(Acknowledgement.alert_id.in_(ids))
        )
    }
    return [AlertView(a, deliveries.get(a.id), acks.get(a.id)) for a in alerts]


def _detail(session: Session, alert: StoredAlert) -> AlertDetail:
    (view,) = with_states(session, [alert])
    status = delivery_status(session, alert.id)
    return AlertDetail(view, () if status is None else status.history)
