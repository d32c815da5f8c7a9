"""Prometheus figures read from the store at scrape time: risk alerts, submissions, anchors.

The store is shared by every process (``ledger submit``, ``ledger alerts dispatch``,
each API worker), so these figures are the same whichever worker is scraped, and
count work done by the CLI too. The queries are the library's
(:mod:`ledger.alerts.figures`, :mod:`ledger.alerts.monitoring`), the ones
``ledger alerts summary`` prints. Labels: institution codes (the partner banks,
few), event types, delivery states and batch kinds; never a loan or a borrower.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Final

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ledger.alerts.figures import alert_figures
from ledger.alerts.monitoring import age_seconds, anchor_lags, submissions
from ledger.store import Store

#: Buckets of a submission's rejected share of rows.
REJECTION_BUCKETS: Final = (0.0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0)


class AlertCollector(Collector):
    """Alerts per bank: written, acknowledged, by delivery state, open; levels; lags."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        with self.store.session() as s:
            banks = alert_figures(s)
        now = datetime.now(UTC)
        bank, typed = ["institution"], ["institution", "type"]
        written = CounterMetricFamily(
            "creditanchor_alerts", "Alerts queued for each bank, by event type", labels=typed
        )
        acked = CounterMetricFamily(
            "creditanchor_alerts_acked", "Alerts the bank acknowledged, by event type", labels=typed
        )
        deliveries = GaugeMetricFamily(
            "creditanchor_alert_deliveries",
            "Alerts by delivery state (pending, delivered, failed, disabled; pulled: no webhook)",
            labels=[*typed, "state"],
        )
        open_ = GaugeMetricFamily(
            "creditanchor_alerts_open", "Alerts not acknowledged", labels=bank
        )
        level = GaugeMetricFamily(
            "creditanchor_plan_level", "The risk plan's level for each bank (1-3)", labels=bank
        )
        lag = GaugeMetricFamily(
            "creditanchor_alert_delivery_lag_seconds",
            "Age of the bank's oldest alert waiting for webhook delivery (0: none waits)",
            labels=bank,
        )
        unacked = GaugeMetricFamily(
            "creditanchor_alert_oldest_open_seconds",
            "Age of the bank's oldest alert not acknowledged (0: none)",
            labels=bank,
        )
        for code, figures in banks.items():
            for event_type, n in sorted(figures.written.items()):
                written.add_metric([code, event_type], n)
                acked.add_metric([code, event_type], figures.acked.get(event_type, 0))
            for (event_type, state), n in sorted(figures.deliveries.items()):
                deliveries.add_metric([code, event_type, state], n)
            open_.add_metric([code], figures.open)
            level.add_metric([code], figures.level)
            lag.add_metric([code], age_seconds(figures.oldest_pending_at, now))
            unacked.add_metric([code], age_seconds(figures.oldest_open_at, now))
        yield from (written, acked, deliveries, open_, level, lag, unacked)


class PipelineCollector(Collector):
    """Submissions' rejection rates and the anchor lag of each batch kind."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        with self.store.session() as s:
            done = submissions(s)
            lags = anchor_lags(s)
        now = datetime.now(UTC)
        rows = CounterMetricFamily(
            "creditanchor_submission_rows", "Rows of all submissions by outcome", labels=["outcome"]
        )
        rows.add_metric(["accepted"], sum(x.accepted for x in done))
        rows.add_metric(["rejected"], sum(x.rejected for x in done))
        rates = [x.rejection_rate for x in done]
        buckets = [(str(b), sum(r <= b for r in rates)) for b in REJECTION_BUCKETS]
        ratio = HistogramMetricFamily(
            "creditanchor_submission_rejection_ratio",
            "Each submission's rejected share of its rows",
            buckets=[*buckets, ("+Inf", len(rates))],
            sum_value=sum(rates),
        )
        waiting = GaugeMetricFamily(
            "creditanchor_anchor_pending_seconds",
            "Age of the oldest batch of each kind waiting for its anchor (0: none waits)",
            labels=["kind"],
        )
        last = GaugeMetricFamily(
            "creditanchor_anchor_last_lag_seconds",
            "From stored to anchored (block time), the last anchored batch of each kind",
            labels=["kind"],
        )
        for lag in lags:
            waiting.add_metric([str(lag.kind)], lag.pending_seconds(now))
            if lag.last_anchored_lag_seconds is not None:
                last.add_metric([str(lag.kind)], lag.last_anchored_lag_seconds)
        yield from (rows, ratio, waiting, last)
