"""``ledger alerts summary``: the monitoring view of the whole risk warning, in one read.

Per bank (after lending): its alerts open, acknowledged and by delivery state, by
event type (the DPD transitions and portfolio events), its plan level and the
level's name in the plan in force, and its co-funded book by the plan's
severities; before lending: its consent checks and refusals; during: each recent
submission's rejection rate and the anchor lag of each batch kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ledger.alerts.figures import BankFigures, alert_figures, book_by_severity
from ledger.alerts.monitoring import (
    RECENT_SUBMISSIONS,
    AnchorLag,
    SubmissionFigures,
    anchor_lags,
    consent_checks,
    submissions,
)
from ledger.alerts.outbox import iso, utc_now
from ledger.alerts.plan import Plan
from ledger.consent.reasons import ANOMALIES


@dataclass(frozen=True, slots=True)
class Summary:
    at: datetime
    plan: Plan
    banks: dict[str, BankFigures]
    books: dict[str, dict[str, dict[str, Any]]]
    checks: dict[str, dict[str, int]]
    recent: list[SubmissionFigures]
    lags: list[AnchorLag]

    def bank_json(self, code: str) -> dict[str, Any]:
        figures = self.banks.get(code) or BankFigures(code)
        checks = self.checks.get(code, {})
        level = figures.level
        names = {lv.level: lv.name for lv in self.plan.levels}
        return {
            **figures.to_json(),
            "level_name": names.get(level),
            # False: the level was set under another plan than the one in force now
            "level_under_plan_in_force": figures.level_plan_digest in (None, self.plan.digest),
            "book": self.books.get(code, {}),
            "consent_checks": {
                "granted": checks.get("granted", 0),
                "refused": sum(n for reason, n in checks.items() if reason != "granted"),
                "refusals": {r: n for r, n in sorted(checks.items()) if r != "granted"},
                "anomalies": sum(checks.get(reason, 0) for reason in sorted(ANOMALIES)),
            },
        }

    def to_json(self) -> dict[str, Any]:
        codes = sorted(set(self.banks) | set(self.books) | set(self.checks))
        return {
            "at": iso(self.at),
            "plan": {
                "name": self.plan.name,
                "version": self.plan.version,
                "digest": self.plan.digest,
            },
            "banks": [self.bank_json(code) for code in codes],
            "submissions": [s.to_json() for s in self.recent],
            "anchor_lag": [lag.to_json(self.at) for lag in self.lags],
        }


def summarize(session: Session, plan: Plan, *, now: datetime | None = None) -> Summary:
    """Read everything the summary shows, in one session."""
    return Summary(
        at=utc_now(now),
        plan=plan,
        banks=alert_figures(session),
        books=book_by_severity(session, plan),
        checks=consent_checks(session),
        recent=submissions(session, limit=RECENT_SUBMISSIONS),
        lags=anchor_lags(session),
    )
