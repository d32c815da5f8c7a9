"""Prometheus metrics, served at ``GET /metrics`` (no auth, no personal data).

Each app has its own registry, so several apps in one process (tests) do not
collide. Labels are bounded: route *templates*, methods, status codes, verify
and consent-check outcomes, batch statuses and kinds, partner institution codes
and alert types (:mod:`api.collectors`) — never a path parameter, key, loan or
record value.
With several uvicorn workers each process reports its own counters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from api.alertstream import StreamSlots
from api.collectors import AlertCollector, PipelineCollector
from ledger.anchoring.election import Election
from ledger.store import Batch, Store

#: Request latencies from 1 ms to 10 s: a cached proof to a 10000-record verify.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class BatchCollector(Collector):
    """Batches by status (``pending`` = stored, anchor not yet confirmed), read at scrape time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "creditanchor_batches", "Batches in the store by status", labels=["status"]
        )
        with self.store.session() as s:
            rows = s.execute(select(Batch.status, func.count()).group_by(Batch.status)).all()
        counts = {"pending": 0, "anchored": 0} | {str(status): int(n) for status, n in rows}
        for status, n in sorted(counts.items()):
            family.add_metric([status], n)
        yield family


class Metrics:
    """The app's registry and its instruments."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "creditanchor_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "creditanchor_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.verify_outcomes = Counter(
            "creditanchor_verify_outcomes",
            "POST /v1/verify items by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.anchors = Counter(
            "creditanchor_anchors",
            "Batches anchored by this process (submissions through the API)",
            registry=self.registry,
        )
        self.consent_checks = Counter(
            "creditanchor_consent_checks",
            "POST /v1/consents/check answers by this process: granted, or the refusal reason",
            ["outcome"],
            registry=self.registry,
        )
        self._outcomes: dict[str, Any] = {}

    def watch_store(self, store: Store) -> None:
        self.registry.register(BatchCollector(store))
        self.registry.register(AlertCollector(store))
        self.registry.register(PipelineCollector(store))

    def watch_streams(self, slots: StreamSlots) -> None:
        streams = Gauge(
            "creditanchor_alert_streams_open",
            "GET /v1/alerts/stream connections open in this process",
            registry=self.registry,
        )
        streams.set_function(lambda: slots.open)

    def watch_election(self, election: Election) -> None:
        sender = Gauge(
            "creditanchor_anchor_sender",
            "1 if this process is the elected anchor sender, else 0",
            registry=self.registry,
        )
        sender.set_function(lambda: float(election.elected))

    def count_consent_check(self, outcome: str) -> None:
        """One consent check answered: ``granted`` or the reason it was refused (a bounded set)."""
        child = self._outcomes.get(outcome)
        if child is None:
            child = self._outcomes[outcome] = self.consent_checks.labels(outcome)
        child.inc()

    def observe(self, method: str, route: str | None, status: int, seconds: float) -> None:
        key = (method, route or "unmatched", status)
        children = self._children.get(key)
        if children is None:  # labels() costs more than the update itself: once per key
            name = key[1]
            children = (
                self.requests.labels(method, name, str(status)),
                self.latency.labels(method, name),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_outcomes(self, counts: Mapping[str, int]) -> None:
        """Add a verify request's item counts by outcome."""
        for outcome, n in counts.items():
            if n:
                self.verify_outcomes.labels(outcome).inc(n)
