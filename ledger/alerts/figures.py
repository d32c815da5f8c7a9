"""Each bank's alerts in figures: the "after lending" side of monitoring.

:func:`alert_figures` reads the outbox in one grouped query (alerts joined with
their delivery and acknowledgement): per bank and event type, how many were
written, acknowledged, and in each delivery state, the oldest open one and the
oldest waiting for delivery; with each bank's webhook state and plan level.
``ledger alerts summary`` prints it and ``GET /metrics`` exports it, so both
count the same way. Figures are per bank, never per loan.

:func:`book_by_severity` puts each bank's co-funded book (the accounts' last
states) in the plan's severities, by the plan's own rule
(:meth:`~ledger.alerts.plan.Plan.severity`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import polars as pl
from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from ledger.alerts.plan import Plan
from ledger.records.frame import FUNDER
from ledger.store.accounts import BankLevel, book
from ledger.store.alerts import Acknowledgement, Alert, AlertDelivery, WebhookEndpoint

#: The delivery "state" of an alert whose bank has no webhook endpoint: it pulls.
PULLED: Final = "pulled"
DELIVERY_STATES: Final = ("pending", "delivered", "failed", "disabled", PULLED)
#: The severity of a loan below every severity of the plan (not overdue enough).
CURRENT: Final = "current"
_BP: Final = 10_000.0


@dataclass
class BankFigures:
    """One bank's alerts in figures (see the module doc)."""

    institution: str
    #: alerts written, per event type
    written: Counter[str] = field(default_factory=Counter)
    acked: Counter[str] = field(default_factory=Counter)
    #: (event type, delivery state) -> alerts
    deliveries: Counter[tuple[str, str]] = field(default_factory=Counter)
    oldest_open_at: str | None = None
    oldest_pending_at: str | None = None
    #: active | disabled; None: no webhook (the bank pulls)
    endpoint: str | None = None
    level: int = 1
    level_changed_at: str | None = None
    level_plan_digest: str | None = None

    @property
    def open(self) -> int:
        """Alerts not acknowledged."""
        return sum(self.written.values()) - sum(self.acked.values())

    def by_state(self) -> dict[str, int]:
        totals = dict.fromkeys(DELIVERY_STATES, 0)
        for (_type, state), n in self.deliveries.items():
            totals[state] += n
        return totals

    def to_json(self) -> dict[str, Any]:
        return {
            "institution": self.institution,
            "alerts": sum(self.written.values()),
            "open": self.open,
            "acked": sum(self.acked.values()),
            "delivery": self.by_state(),
            "by_type": dict(sorted(self.written.items())),
            "acked_by_type": dict(sorted(self.acked.items())),
            "oldest_open_at": self.oldest_open_at,
            "oldest_pending_at": self.oldest_pending_at,
            "endpoint": self.endpoint,
            "level": self.level,
            "level_changed_at": self.level_changed_at,
        }


def alert_figures(session: Session) -> dict[str, BankFigures]:
    """Every bank's figures, by institution code (a bank with a level or an endpoint but
    no alert yet is listed too)."""
    acked = Acknowledgement.alert_id.is_not(None)
    state = func.coalesce(AlertDelivery.state, literal(PULLED))
    rows = session.execute(
        select(
            Alert.institution,
            Alert.type,
            state,
            acked,
            func.count(),
            func.min(Alert.created_at),
        )
        .outerjoin(AlertDelivery, AlertDelivery.alert_id == Alert.id)
        .outerjoin(Acknowledgement, Acknowledgement.alert_id == Alert.id)
        .group_by(Alert.institution, Alert.type, state, acked)
    ).all()
    banks: dict[str, BankFigures] = {}

    def bank(code: str) -> BankFigures:
        return banks.setdefault(code, BankFigures(code))

    for institution, event_type, delivery, was_acked, n, oldest in rows:
        figures = bank(institution)
        figures.written[event_type] += n
        figures.deliveries[(event_type, delivery)] += n
        if was_acked:
            figures.acked[event_type] += n
        else:
            figures.oldest_open_at = _earliest(figures.oldest_open_at, oldest)
        if delivery == "pending":
            figures.oldest_pending_at = _earliest(figures.oldest_pending_at, oldest)
    for institution, status in session.execute(
        select(WebhookEndpoint.institution, WebhookEndpoint.status)
    ):
        bank(institution).endpoint = status
    for row in session.scalars(select(BankLevel)):
        figures = bank(row.institution)
        figures.level, figures.level_changed_at = row.level, row.changed_at
        figures.level_plan_digest = row.plan_digest
    return dict(sorted(banks.items()))


def _earliest(a: str | None, b: str | None) -> str | None:
    """The earlier of two ISO 8601 UTC times of one format (they sort as text)."""
    if a is None or b is None:
        return a or b
    return min(a, b)


def book_by_severity(session: Session, plan: Plan) -> dict[str, dict[str, dict[str, Any]]]:
    """Per bank, per severity of ``plan`` (and ``current`` below them all): the loans it
    co-funds and its share of their balance (a decimal string, to the cent)."""
    frame = book(session)
    if frame.is_empty():
        return {}
    days = frame.get_column("dpd").unique().to_list()  # few: the plan's rule, once per value
    names = [plan.severity(d) or CURRENT for d in days]
    per_bank = (
        frame.with_columns(
            pl.col("funders").str.json_decode(pl.List(FUNDER)),
            pl.col("dpd").replace_strict(days, names, return_dtype=pl.String).alias("severity"),
        )
        .explode("funders")
        .drop_nulls("funders")
        .unnest("funders")
        .group_by("org_code", "severity")
        .agg(
            pl.len().alias("loans"),
            (
                pl.col("balance").cast(pl.Float64, strict=False).fill_null(0.0)
                * pl.col("share_bp")
                / _BP
            )
            .sum()
            .alias("balance_share"),
        )
        .sort("org_code", "severity")
    )
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for code, severity, loans, balance in per_bank.iter_rows():
        out.setdefault(code, {})[severity] = {"loans": loans, "balance_share": f"{balance:.2f}"}
    return out
