"""Sending an alert to its bank again (``ledger alerts replay``), for a bank that lost it.

The alert is not copied: its delivery row goes back to ``pending``, due now, with a
fresh retry schedule (as re-enabling an endpoint does), so the dispatcher posts the
same stored body under the same ``webhook-id``. A bank that deduplicates by id and
still remembers it acknowledges it again; one that lost it processes it. Earlier
attempts stay in the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from ledger.alerts.errors import NoEndpointError
from ledger.alerts.outbox import find_alert, to_ms, utc_now
from ledger.errors import ConflictError
from ledger.store.alerts import AlertDelivery, WebhookEndpoint

#: Delivery states a replay moves back to pending (a pending one is queued already).
REPLAYABLE: Final = ("delivered", "failed", "disabled")


@dataclass(frozen=True, slots=True)
class Replayed:
    alert_id: str
    institution: str
    #: ``queued``: due now; ``already_queued``: it was pending, nothing changed.
    outcome: str
    #: The state it was in before (None: it had never been pushed).
    previous: str | None


def replay(session: Session, alert_id: str, *, now: datetime | None = None) -> Replayed:
    """Queue alert ``alert_id`` for delivery again, in the caller's transaction.

    :class:`UnknownAlertError` for no such alert, :class:`NoEndpointError` when its
    bank has no webhook (it pulls), :class:`ConflictError` when the endpoint is
    disabled (set it again first: that re-queues its disabled deliveries itself).
    """
    alert = find_alert(session, alert_id)
    endpoint = session.get(WebhookEndpoint, alert.institution)
    if endpoint is None:
        raise NoEndpointError(
            f"institution {alert.institution!r} has no webhook endpoint: it pulls its alerts",
            hint=f"it reads it again with GET /v1/alerts?after={alert.seq - 1}",
        )
    if endpoint.status != "active":
        raise ConflictError(
            f"the webhook endpoint of {alert.institution!r} is {endpoint.status}",
            hint=f"enable it again: ledger partner webhook set {alert.institution} URL",
        )
    due = {"state": "pending", "attempts": 0, "due_ms": to_ms(utc_now(now))}
    row = session.get(AlertDelivery, alert_id, populate_existing=True)
    if row is None:  # written before the bank had an endpoint
        values = {"alert_id": alert_id, "institution": alert.institution, **due}
        session.execute(insert(AlertDelivery).values(values))
        return Replayed(alert_id, alert.institution, "queued", None)
    previous = row.state  # read before the update, which refreshes ``row``
    moved = session.scalar(
        update(AlertDelivery)
        .where(AlertDelivery.alert_id == alert_id, AlertDelivery.state.in_(REPLAYABLE))
        .values(lease_owner=None, delivered_at=None, last_error=None, **due)
        .returning(AlertDelivery.alert_id)
    )  # None when it was pending (queued, or in flight) and so left alone
    outcome = "queued" if moved is not None else "already_queued"
    return Replayed(alert_id, alert.institution, outcome, previous)
