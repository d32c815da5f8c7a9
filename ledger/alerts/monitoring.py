"""Monitoring before and during lending, from the store: what ``ledger alerts summary``
shows beside each bank's alerts, and what ``GET /metrics`` exports of it.

- before: consent checks per bank, granted or refused and why; the refusals that
  mean a stored receipt was tampered with are the inquiry anomalies;
- during: each submission's rejection rate, and anchor lag (how long the oldest
  batch of each kind has waited for its anchor, and how long the last anchored one took).

Every figure is per bank, per reason or per batch kind: never per borrower or loan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.store import Batch, Inquiry, Submission

#: Submissions listed one by one in a summary, newest first.
RECENT_SUBMISSIONS: Final = 10


@dataclass(frozen=True, slots=True)
class SubmissionFigures:
    submission_id: str
    created_at: str
    accepted: int
    rejected: int

    @property
    def rejection_rate(self) -> float:
        total = self.accepted + self.rejected
        return self.rejected / total if total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "created_at": self.created_at,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejection_rate": round(self.rejection_rate, 6),
        }


@dataclass(frozen=True, slots=True)
class AnchorLag:
    """One batch kind: batches waiting, the oldest one's wait, the last anchored one's."""

    kind: int
    pending: int
    oldest_pending_at: str | None
    last_anchored_lag_seconds: float | None

    def pending_seconds(self, now: datetime) -> float:
        """How long the oldest pending batch has waited (0 when none waits)."""
        return age_seconds(self.oldest_pending_at, now)

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "pending": self.pending,
            "oldest_pending_seconds": round(self.pending_seconds(now), 3),
            "last_anchored_lag_seconds": self.last_anchored_lag_seconds,
        }


def parse_time(text: str) -> datetime:
    """An ISO 8601 UTC time as the store writes it."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def age_seconds(moment: str | None, now: datetime) -> float:
    """Seconds from ``moment`` (a stored ISO 8601 time) to ``now``; 0 for None."""
    return 0.0 if moment is None else max(0.0, (now - parse_time(moment)).total_seconds())


def consent_checks(session: Session) -> dict[str, dict[str, int]]:
    """Per bank: consent checks by outcome (``granted`` or the refusal reason)."""
    rows = session.execute(
        select(Inquiry.institution, Inquiry.result, Inquiry.reason, func.count()).group_by(
            Inquiry.institution, Inquiry.result, Inquiry.reason
        )
    )
    out: dict[str, dict[str, int]] = {}
    for institution, result, reason, n in rows:
        outcome = "granted" if result == "granted" else reason
        checks = out.setdefault(institution, {})
        checks[outcome] = checks.get(outcome, 0) + int(n)
    return dict(sorted(out.items()))


def submissions(session: Session, *, limit: int | None = None) -> list[SubmissionFigures]:
    """Submissions newest first (all of them, or the last ``limit``)."""
    query = select(
        Submission.id, Submission.created_at, Submission.accepted, Submission.rejected
    ).order_by(Submission.created_at.desc(), Submission.id)
    if limit is not None:
        query = query.limit(limit)
    return [
        SubmissionFigures(i, c, int(a or 0), int(r or 0)) for i, c, a, r in session.execute(query)
    ]


def anchor_lags(session: Session) -> list[AnchorLag]:
    """Per batch kind in the store, its :class:`AnchorLag`."""
    waiting = {
        kind: (int(n), oldest)
        for kind, n, oldest in session.execute(
            select(Batch.kind, func.count(), func.min(Batch.created_at))
            .where(Batch.status == "pending")
            .group_by(Batch.kind)
        )
    }
    last_seq = (
        select(Batch.kind, func.max(Batch.seq).label("seq"))
        .where(Batch.status == "anchored")
        .group_by(Batch.kind)
        .subquery()
    )
    last = {
        kind: _seconds_between(created, anchored)
        for kind, created, anchored in session.execute(
            select(Batch.kind, Batch.created_at, Batch.block_timestamp).join(
                last_seq, (Batch.kind == last_seq.c.kind) & (Batch.seq == last_seq.c.seq)
            )
        )
    }
    lags = []
    for kind in sorted(set(waiting) | set(last)):
        pending, oldest = waiting.get(kind, (0, None))
        lags.append(AnchorLag(kind, pending, oldest, last.get(kind)))
    return lags


def _seconds_between(start: str, end: str | None) -> float | None:
    if end is None:
        return None
    return max(0.0, (parse_time(end) - parse_time(start)).total_seconds())
