"""What each role's console page shows, read from the store (and the chain) by the
library's own functions: the pages never re-derive a rule.

Every reader here is bounded (a page of rows, or figures grouped per bank, kind or
reason), so a page view costs the same whatever the store holds, but for the bank's
book, which is read whole as ``ledger alerts summary`` and ``/metrics`` read it.
A bank's readers take its institution code and read nothing else of another bank's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import polars as pl
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from ledger.audit import AuditReport

from api.state import PROBE_WAIT_SECONDS, AppState
from ledger.alerts.events import DAYS_PER_BAND, MAX_BAND, band
from ledger.alerts.figures import BankFigures, alert_figures
from ledger.alerts.monitoring import AnchorLag, anchor_lags, parse_time
from ledger.alerts.payloads import with_shares
from ledger.alerts.views import AlertView, bank_page
from ledger.audit.defaults import LATEST_REPORT
from ledger.consent.inquiries import InquiryEntry, InquiryLog
from ledger.errors import LedgerError
from ledger.records.frame import FUNDER
from ledger.store import Batch, Rejection, Store, Submission
from ledger.store.accounts import book

#: Rows a table shows at most per page view (older ones: the next page, or the API).
PAGE: Final = 100


@dataclass(frozen=True, slots=True)
class BookBand:
    """A 30-day band of days past due (0: not overdue): the bank's loans and its share
    of their balance, to the cent."""

    band: int
    loans: int
    balance_share: str

    @property
    def days(self) -> str | None:
        """The band's days past due (31 to 60, or 181 and more), from the bands' own
        bounds; None for band 0 (not overdue)."""
        if self.band == 0:
            return None
        first = (self.band - 1) * DAYS_PER_BAND + 1
        return f"{first}+" if self.band == MAX_BAND else f"{first}\u2013{self.band * DAYS_PER_BAND}"


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert as the bank's table shows it (its loan by the bank's own reference)."""

    view: AlertView
    loan_ref: str | None
    days_past_due: int | None
    leaf_hash: str | None


@dataclass(frozen=True, slots=True)
class BankView:
    institution: str
    book: list[BookBand]
    figures: BankFigures
    alerts: list[AlertRow]
    alerts_next: int | None
    inquiries: list[InquiryEntry]
    inquiries_next: int | None


def bank_book(session: Session, institution: str) -> list[BookBand]:
    """The bank's co-funded loans per band (:func:`~ledger.alerts.events.band`), with its
    share of each balance by :func:`~ledger.alerts.payloads.with_shares`, summed."""
    frame = book(session, funder=institution)
    if frame.is_empty():
        return []
    mine = (
        frame.with_columns(pl.col("funders").str.json_decode(pl.List(FUNDER)))
        .explode("funders")
        .unnest("funders")
        .filter(pl.col("org_code") == institution)
        .with_columns(band(pl.col("dpd")).alias("band"))
    )
    shared = with_shares(mine, {"balance": "balance_share"})
    rows = shared.group_by("band").agg(pl.len().alias("loans"), pl.col("balance_share"))
    out = []
    for number, loans, shares in rows.sort("band").iter_rows():
        total = sum((Decimal(s) for s in shares if s is not None), Decimal("0.00"))
        out.append(BookBand(number, loans, f"{total:.2f}"))
    return out


def _alert_row(view: AlertView) -> AlertRow:
    data = view.alert.envelope().get("data") or {}
    dpd = data.get("days_past_due")
    return AlertRow(
        view,
        data.get("loan_ref"),
        dpd if isinstance(dpd, int) else None,
        data.get("leaf_hash"),
    )


def bank_view(
    store: Store, inquiries: InquiryLog, institution: str, after: int, inquiries_after: int
) -> BankView:
    """Bank ``institution``'s page: its book, its alerts after ``after`` with their
    delivery and acknowledgement, its consent checks after ``inquiries_after`` (its own
    only, as the API reads them)."""
    with store.session() as s:
        views = bank_page(s, institution, after, PAGE)
        figures = alert_figures(s).get(institution) or BankFigures(institution)
        banded = bank_book(s, institution)
    entries, next_inquiry = inquiries.entries(
        institution=institution, after=inquiries_after, limit=PAGE
    )
    return BankView(
        institution,
        banded,
        figures,
        [_alert_row(v) for v in views],
        views[-1].alert.seq if len(views) == PAGE else None,
        entries,
        next_inquiry,
    )


@dataclass(frozen=True, slots=True)
class BatchRow:
    batch: Batch
    lag_seconds: float | None


@dataclass(frozen=True, slots=True)
class LogCheck:
    """The registry's ``logHead``/``anchorCount`` now, against the anchors the store holds."""

    log_head: str | None
    anchor_count: int | None
    stored_anchors: int
    error: str | None = None

    @property
    def agrees(self) -> bool:
        return self.error is None and self.anchor_count == self.stored_anchors


@dataclass(frozen=True, slots=True)
class AuditorView:
    batches: list[BatchRow]
    batch_count: int
    report: dict[str, Any] | None
    report_at: str | None


def lag_seconds(batch: Batch) -> float | None:
    """From stored to anchored (block time), as ``/metrics`` measures anchor lag."""
    if batch.block_timestamp is None:
        return None
    return max(
        0.0, (parse_time(batch.block_timestamp) - parse_time(batch.created_at)).total_seconds()
    )


def stored_anchors(store: Store, kinds: frozenset[int] | None) -> int:
    """Batches the store calls anchored at the registry of ``kinds`` (None: every kind)."""
    query = select(func.count()).select_from(Batch).where(Batch.status == "anchored")
    if kinds is not None:
        query = query.where(Batch.kind.in_(sorted(kinds)))
    with store.session() as s:
        return int(s.scalar(query) or 0)


def log_check(state: AppState) -> LogCheck:
    """The registry's log head and count, read under the chain lock (waiting as long as a
    readiness probe does: a busy chain is reported, not waited for)."""
    if not state.gate.lock.acquire(timeout=PROBE_WAIT_SECONDS):
        return LogCheck(None, None, 0, error="busy")
    try:
        with state.gate.hold() as ledger:
            head = "0x" + ledger.registry.log_head().hex()
            count = ledger.registry.anchor_count()
            kinds = ledger.deployment.anchor_kinds
    except LedgerError as exc:
        return LogCheck(None, None, 0, error=exc.code)
    finally:
        state.gate.lock.release()
    return LogCheck(head, count, stored_anchors(state.store, kinds))


def completeness(state: AppState) -> AuditReport:
    """The quick completeness check: replay every ``BatchAnchored`` event from the
    deployment block and hold the recomputed log head and count to the registry's
    (the audit's own replay, without the store and record checks)."""
    from ledger.audit import AuditTarget, audit

    with state.gate.hold() as ledger:
        report, _ = audit(ledger.chain, AuditTarget.of(ledger.deployment), alerts=None)
    return report


def latest_report(data_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The latest ``ledger audit`` report and when it was written (UTC), if one was."""
    path = data_dir / LATEST_REPORT
    try:
        text = path.read_text(encoding="utf-8")
        written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError:
        return None, None
    report: dict[str, Any] = json.loads(text)
    return report, written.strftime("%Y-%m-%dT%H:%M:%SZ")


def auditor_view(store: Store, data_dir: Path) -> AuditorView:
    """The auditor's page: the latest batches with their anchors, the latest audit report."""
    with store.session() as s:
        rows = list(s.scalars(select(Batch).order_by(Batch.created_at.desc()).limit(PAGE)))
        count = int(s.scalar(select(func.count()).select_from(Batch)) or 0)
        s.expunge_all()
    report, at = latest_report(data_dir)
    return AuditorView([BatchRow(b, lag_seconds(b)) for b in rows], count, report, at)


@dataclass(frozen=True, slots=True)
class Reasons:
    field: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class OperatorView:
    in_flight: list[Submission]
    recent: list[Submission]
    rejections: list[Reasons]
    pending: list[Batch]
    lags: list[AnchorLag]
    now: datetime


def operator_view(store: Store) -> OperatorView:
    """The operator's page: submissions in flight and recent, rejections by reason
    (counts only), batches waiting for their anchor and each kind's anchor lag."""
    with store.session() as s:
        newest = Submission.created_at.desc()
        in_flight = list(
            s.scalars(
                select(Submission).where(Submission.status == "open").order_by(newest).limit(PAGE)
            )
        )
        recent = list(s.scalars(select(Submission).order_by(newest).limit(10)))
        n = func.count().label("n")
        reasons = [
            Reasons(f, r, int(c))
            for f, r, c in s.execute(
                select(Rejection.field, Rejection.reason, n)
                .group_by(Rejection.field, Rejection.reason)
                .order_by(n.desc(), Rejection.field)
                .limit(PAGE)
            )
        ]
        pending = list(
            s.scalars(
                select(Batch)
                .where(Batch.status == "pending")
                .order_by(Batch.created_at)
                .limit(PAGE)
            )
        )
        lags = anchor_lags(s)
        s.expunge_all()
    return OperatorView(in_flight, recent, reasons, pending, lags, datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Health:
    """What ``/readyz`` answers (store, chain and its block) and the store-side figures
    ``/metrics`` exports, as (name, labels, value)."""

    store: str
    chain: str
    block_number: int | None
    samples: list[tuple[str, str, float]]


#: The ``/metrics`` families the operator's page shows (the store's and the anchors').
SHOWN_METRICS: Final = (
    "creditanchor_batches",
    "creditanchor_anchor_pending_seconds",
    "creditanchor_anchor_last_lag_seconds",
    "creditanchor_submission_rows",
    "creditanchor_alerts_open",
)


def health(state: AppState, registry: CollectorRegistry) -> Health:
    """The readiness probe's checks and the metrics registry's figures, as they answer."""
    try:
        state.check_store()
        store = "ok"
    except LedgerError as exc:
        store = exc.code
    try:
        block = state.gate.probe()
        chain = "busy" if block is None else "ok"
    except LedgerError as exc:
        block, chain = None, exc.code
    samples = [
        (sample.name, ", ".join(f"{k}={v}" for k, v in sorted(sample.labels.items())), sample.value)
        for family in registry.collect()
        if family.name in SHOWN_METRICS
        for sample in family.samples
        if not sample.name.endswith("_created")
    ]
    return Health(store, chain, block, samples)
