"""Delivery state in the store: claiming due deliveries and recording what their POSTs got.

The store is the truth, so a sender can die at any moment (``kill -9``) and
another picks up where it stopped:

- :func:`claim_due` reserves due deliveries for one sender (a random lease token;
  ``due_ms`` moved to the lease's end), committed before anything is sent;
- the sender POSTs them (:mod:`ledger.alerts.dispatcher`);
- :func:`record` writes each attempt and the new state (the dispatcher commits it
  with its next claim: one transaction per round).

A sender killed between POST and record leaves its lease to run out; the
delivery is then sent again, with the same ``webhook-id`` and body, so a bank
that deduplicates by id (the spec's idempotency key) sees it once. Nothing is
ever lost: a delivery leaves ``pending`` only for ``delivered`` (a 2xx),
``failed`` (the retry schedule ran out) or ``disabled`` (its endpoint answered 410).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ledger.alerts.endpoints import disable_endpoint
from ledger.alerts.outbox import iso, released, to_ms
from ledger.store.alerts import Alert, AlertDelivery, DeliveryAttempt, WebhookEndpoint

#: A ``Retry-After`` longer than this is read as this: a receiver may slow its own
#: deliveries down, not park them for weeks.
MAX_RETRY_AFTER: Final = 86400.0
_RANDOM: Final = secrets.SystemRandom()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Seconds before each retry after the first, immediate attempt; ``jitter`` a fraction."""

    schedule: tuple[float, ...]
    jitter: float

    def next_delay(self, attempts_done: int, retry_after: float | None) -> float | None:
        """Seconds until the next attempt, or None when the schedule has run out."""
        if attempts_done > len(self.schedule):
            return None
        delay = self.schedule[attempts_done - 1]
        delay *= 1 + _RANDOM.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return delay


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery reserved for one sender: what to POST where, and its attempt number."""

    alert_id: str
    institution: str
    url: str
    body: bytes
    attempt: int
    lease: str


@dataclass(frozen=True, slots=True)
class Answer:
    """What one POST got: a status code, or an error (no answer, or refused)."""

    started: datetime
    duration_ms: int
    target: str
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    attempt: int
    started_at: str
    duration_ms: int
    target: str
    status_code: int | None
    error: str | None
    outcome: str


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """Where an alert's push stands (``state``) and every attempt so far."""

    alert_id: str
    state: str
    attempts: int
    due_ms: int | None
    delivered_at: str | None
    last_error: str | None
    history: tuple[AttemptInfo, ...]


def claim_due(
    session: Session,
    *,
    now_ms: int,
    lease_ms: int,
    limit: int,
    per_institution: int,
    busy: Mapping[str, int],
) -> list[Claim]:
    """Reserve up to ``limit`` due deliveries (at most ``per_institution`` in flight per
    bank, counting ``busy``). The caller commits the reservation before it sends any.

    A claim moves ``due_ms`` to the end of the lease: the delivery is not due for
    anyone else until then, and is due again by itself if its sender dies.
    """
    # Core statements on the session's connection: a dispatcher runs this a few hundred
    # times a second, and the ORM's per-statement work would be a third of its CPU.
    conn = session.connection()
    banks = list(
        conn.execute(
            select(WebhookEndpoint.institution).where(WebhookEndpoint.status == "active")
        ).scalars()
    )
    _RANDOM.shuffle(banks)  # when ``limit`` runs out first, no bank always comes last
    chosen: list[str] = []
    for bank in banks:
        room = min(per_institution - busy.get(bank, 0), limit - len(chosen))
        if room > 0:
            chosen += conn.execute(
                select(AlertDelivery.alert_id)
                .join(Alert, Alert.id == AlertDelivery.alert_id)
                .where(
                    AlertDelivery.institution == bank,
                    AlertDelivery.state == "pending",
                    AlertDelivery.due_ms <= now_ms,
                    released(),  # its batch is anchored: nothing goes out before its anchor
                )
                .order_by(AlertDelivery.due_ms)
                .limit(room)
            ).scalars()
    if not chosen:
        return []
    lease = secrets.token_hex(8)
    conn.execute(
        update(AlertDelivery)
        .where(
            AlertDelivery.alert_id.in_(chosen),
            AlertDelivery.state == "pending",
            AlertDelivery.due_ms <= now_ms,
        )
        .values(lease_owner=lease, due_ms=now_ms + lease_ms)
    )
    rows = conn.execute(
        select(AlertDelivery.alert_id, Alert.institution, WebhookEndpoint.url, Alert.body)
        .add_columns(AlertDelivery.attempts)
        .join(Alert, Alert.id == AlertDelivery.alert_id)
        .join(WebhookEndpoint, WebhookEndpoint.institution == AlertDelivery.institution)
        .where(AlertDelivery.alert_id.in_(chosen), AlertDelivery.lease_owner == lease)
    ).all()
    return [Claim(a, i, u, b, done + 1, lease) for a, i, u, b, done in rows]


#: Core statements on the table: one ``executemany`` updates every row of a round.
_DELIVERIES = AlertDelivery.__table__
_ATTEMPTS = DeliveryAttempt.__table__
assert isinstance(_DELIVERIES, Table) and isinstance(_ATTEMPTS, Table)
_ATTEMPT = insert(_ATTEMPTS)
#: A 2xx is the answer, whoever holds the lease now, even if a 410 to another request
#: disabled the endpoint meanwhile (the first 2xx's time is kept).
_DELIVERED = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.alert_id == bindparam("b_id"),
        _DELIVERIES.c.state != "delivered",
    )
    .values(
        state="delivered",
        delivered_at=bindparam("b_at"),
        attempts=bindparam("b_attempts"),
        due_ms=None,
        lease_owner=None,
        last_error=None,
    )
)
#: Any other answer moves the delivery on only for the sender that holds its lease.
_MOVED_ON = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.alert_id == bindparam("b_id"),
        _DELIVERIES.c.lease_owner == bindparam("b_lease"),
    )
    .values(
        state=bindparam("b_state"),
        attempts=bindparam("b_attempts"),
        due_ms=bindparam("b_due"),
        lease_owner=None,
        last_error=bindparam("b_error"),
    )
)


def record(
    session: Session,
    results: Iterable[tuple[Claim, Answer]],
    policy: RetryPolicy,
    *,
    now: datetime,
) -> Counter[str]:
    """Write each answer as an attempt and move its delivery on (the caller commits).

    Returns how many ended in each outcome (delivered, retry, failed, disabled).
    """
    outcomes: Counter[str] = Counter()
    attempts, delivered, moved = [], [], []
    gone: set[tuple[str, str]] = set()
    for claim, answer in results:
        status = answer.status_code
        error = (answer.error or f"HTTP {status}")[:200]
        params: dict[str, object] = {"b_id": claim.alert_id, "b_attempts": claim.attempt}
        if status is not None and 200 <= status < 300:
            outcome = "delivered"
            delivered.append(params | {"b_at": iso(now)})
        elif status == 410:
            outcome = "disabled"
            gone.add((claim.institution, answer.target))
            moved.append(params | _moved(claim.lease, "pending", None, error))
        else:
            delay = policy.next_delay(claim.attempt, answer.retry_after)
            outcome = "failed" if delay is None else "retry"
            due = None if delay is None else to_ms(now + timedelta(seconds=delay))
            state = "failed" if delay is None else "pending"
            moved.append(params | _moved(claim.lease, state, due, error))
        outcomes[outcome] += 1
        attempts.append(_attempt_row(claim, answer, outcome))
    conn = session.connection()
    for statement, rows in ((_DELIVERED, delivered), (_MOVED_ON, moved)):
        if rows:
            conn.execute(statement, rows)
    for institution, target in gone:  # after the moves: its pending deliveries turn disabled
        disable_endpoint(session, institution, f"{target} answered 410 Gone", now)
    if attempts:
        conn.execute(_ATTEMPT, attempts)
    return outcomes


def _moved(lease: str, state: str, due_ms: int | None, error: str) -> dict[str, object]:
    return {"b_lease": lease, "b_state": state, "b_due": due_ms, "b_error": error}


def _attempt_row(claim: Claim, result: Answer, outcome: str) -> dict[str, object]:
    return {
        "alert_id": claim.alert_id,
        "attempt": claim.attempt,
        "started_at": iso(result.started),
        "duration_ms": result.duration_ms,
        "target": result.target[:300],
        "status_code": result.status_code,
        "error": None if result.error is None else result.error[:200],
        "outcome": outcome,
    }


def next_due_ms(session: Session) -> int | None:
    """When the earliest pending delivery can next be claimed (None: nothing pending)."""
    due = session.scalar(
        select(func.min(AlertDelivery.due_ms)).where(AlertDelivery.state == "pending")
    )
    session.rollback()
    return due


def delivery_status(session: Session, alert_id: str) -> DeliveryStatus | None:
    """The push state of one alert and its attempts; None when it is not pushed (no endpoint)."""
    row = session.get(AlertDelivery, alert_id, populate_existing=True)
    if row is None:
        return None
    history = tuple(
        AttemptInfo(
            a.attempt, a.started_at, a.duration_ms, a.target, a.status_code, a.error, a.outcome
        )
        for a in session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.alert_id == alert_id)
            .order_by(DeliveryAttempt.id)
        )
    )
    return DeliveryStatus(
        row.alert_id, row.state, row.attempts, row.due_ms, row.delivered_at, row.last_error, history
    )
