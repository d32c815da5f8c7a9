"""Delivery state in the store: claiming due deliveries and recording what their POSTs got.

The store is the truth, so a sender can die at any moment (``kill -9``) and
another picks up where it stopped:

- :func:`claim_due` reserves due deliveries for one sender (a random lease token,
  ``lease_until_ms``) in one transaction, before anything is sent;
- the sender POSTs them (:mod:`ledger.alerts.dispatcher`);
- :func:`record` writes each attempt and the new state in one transaction.

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

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ledger.alerts.endpoints import disable_endpoint
from ledger.alerts.outbox import iso, to_ms
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
    bank, counting ``busy``) and commit the reservation before anything is sent."""
    claimable = (
        (AlertDelivery.state == "pending")
        & (AlertDelivery.due_ms <= now_ms)
        & (AlertDelivery.lease_until_ms.is_(None) | (AlertDelivery.lease_until_ms <= now_ms))
    )
    rank = (
        func.row_number()
        .over(partition_by=AlertDelivery.institution, order_by=AlertDelivery.due_ms)
        .label("rank")
    )
    ranked = (
        select(AlertDelivery.alert_id, AlertDelivery.institution, AlertDelivery.due_ms, rank)
        .join(WebhookEndpoint, WebhookEndpoint.institution == AlertDelivery.institution)
        .where(claimable, WebhookEndpoint.status == "active")
        .subquery()
    )
    candidates = session.execute(
        select(ranked.c.alert_id, ranked.c.institution)
        .where(ranked.c.rank <= per_institution)
        .order_by(ranked.c.due_ms)
        .limit(limit)
    ).all()
    room = Counter({inst: per_institution - n for inst, n in busy.items()})
    chosen = []
    for alert_id, institution in candidates:
        if room.setdefault(institution, per_institution) > 0:
            room[institution] -= 1
            chosen.append(alert_id)
    if not chosen:
        session.rollback()
        return []
    lease = secrets.token_hex(8)
    session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.alert_id.in_(chosen), claimable)
        .values(lease_owner=lease, lease_until_ms=now_ms + lease_ms)
    )
    rows = session.execute(
        select(AlertDelivery.alert_id, Alert.institution, WebhookEndpoint.url, Alert.body)
        .add_columns(AlertDelivery.attempts)
        .join(Alert, Alert.id == AlertDelivery.alert_id)
        .join(WebhookEndpoint, WebhookEndpoint.institution == AlertDelivery.institution)
        .where(AlertDelivery.lease_owner == lease)
    ).all()
    claims = [Claim(a, i, u, b, done + 1, lease) for a, i, u, b, done in rows]
    session.commit()
    return claims


def record(
    session: Session,
    results: Iterable[tuple[Claim, Answer]],
    policy: RetryPolicy,
    *,
    now: datetime,
) -> Counter[str]:
    """Write each answer as an attempt and move its delivery on; one transaction.

    Returns how many ended in each outcome (delivered, retry, failed, disabled).
    """
    outcomes: Counter[str] = Counter()
    attempts = []
    for claim, answer in results:
        outcome = _apply(session, claim, answer, policy, now)
        outcomes[outcome] += 1
        attempts.append(_attempt_row(claim, answer, outcome))
    if attempts:
        session.execute(insert(DeliveryAttempt), attempts)
    session.commit()
    return outcomes


def _apply(
    session: Session, claim: Claim, result: Answer, policy: RetryPolicy, now: datetime
) -> str:
    this = AlertDelivery.alert_id == claim.alert_id
    mine = this & (AlertDelivery.lease_owner == claim.lease)
    cleared = {"lease_owner": None, "lease_until_ms": None, "attempts": claim.attempt}
    status = result.status_code
    if status is not None and 200 <= status < 300:
        # A 2xx is the answer, whoever holds the lease now, even if a 410 to another
        # request disabled the endpoint meanwhile.
        session.execute(
            update(AlertDelivery)
            .where(this, AlertDelivery.state.in_(("pending", "disabled")))
            .values(
                state="delivered", delivered_at=iso(now), due_ms=None, last_error=None, **cleared
            )
        )
        return "delivered"
    error = (result.error or f"HTTP {status}")[:200]
    if status == 410:
        session.execute(update(AlertDelivery).where(mine).values(last_error=error, **cleared))
        disable_endpoint(session, claim.institution, f"{result.target} answered 410 Gone", now)
        return "disabled"
    delay = policy.next_delay(claim.attempt, result.retry_after)
    values: dict[str, object] = {"state": "failed", "due_ms": None}
    if delay is not None:
        values = {"due_ms": to_ms(now + timedelta(seconds=delay))}
    session.execute(update(AlertDelivery).where(mine).values(last_error=error, **values, **cleared))
    return "failed" if delay is None else "retry"


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
    pending = AlertDelivery.state == "pending"
    free = session.scalar(
        select(func.min(AlertDelivery.due_ms)).where(
            pending, AlertDelivery.lease_until_ms.is_(None)
        )
    )
    leased = session.scalar(select(func.min(AlertDelivery.lease_until_ms)).where(pending))
    session.rollback()
    times = [t for t in (free, leased) if t is not None]
    return min(times) if times else None


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
