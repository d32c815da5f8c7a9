"""The delivery window on its own: a store whose alerts no bank received or acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger.alerts.outbox import NewAlert, acknowledge, enqueue
from ledger.audit import AuditReport
from ledger.audit.alert_log import check_window
from ledger.store import Batch, Store
from tests.alerts.conftest import add_batch

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _unanswered(store: Store, now: datetime, hours: int = 24) -> list[str]:
    report = AuditReport()
    with store.session() as s:
        check_window(s, report, window_hours=hours, now=now)
    assert {f.code for f in report.findings} <= {"ALERT_UNANSWERED"}
    return [str(f.alert_id) for f in report.findings]


def test_no_delivery_and_no_acknowledgement_at_all(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        assert _unanswered(store, T0) == []  # no alert: nothing to judge
        with store.session() as s, s.begin():
            first, second = enqueue(
                s, [NewAlert("BANK-A", "overdue.entered", {"n": n}, None) for n in (1, 2)], now=T0
            )
        assert _unanswered(store, T0 + timedelta(hours=24)) == []  # the deadline itself: on time
        assert _unanswered(store, T0 + timedelta(hours=25)) == [first, second]
        assert _unanswered(store, T0 + timedelta(hours=25), hours=48) == []
        with store.session() as s, s.begin():
            acknowledge(s, "BANK-A", second, by="desk", now=T0 + timedelta(hours=2))
        assert _unanswered(store, T0 + timedelta(hours=25)) == [first]
    finally:
        store.close()


def test_the_window_starts_when_the_alerts_batch_is_anchored(tmp_path: Path) -> None:
    """An alert goes out only once its batch is anchored: a stalled anchor is not the
    bank's delay, and a batch not anchored yet makes no alert late."""
    batch = "0x" + "ab" * 32
    store = Store.open(tmp_path)
    try:
        add_batch(store, batch, "pending")
        with store.session() as s, s.begin():
            (stalled,) = enqueue(s, [NewAlert("BANK-A", "overdue.entered", {}, batch)], now=T0)
        assert _unanswered(store, T0 + timedelta(hours=30)) == []  # still unanchored
        anchored = T0 + timedelta(hours=30)
        with store.session() as s, s.begin():
            row = s.get_one(Batch, batch)
            row.status, row.block_timestamp = "anchored", anchored.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert _unanswered(store, anchored + timedelta(hours=24)) == []
        assert _unanswered(store, anchored + timedelta(hours=25)) == [stalled]
        with store.session() as s, s.begin():
            acknowledge(s, "BANK-A", stalled, by="desk", now=anchored + timedelta(hours=23))
        assert _unanswered(store, anchored + timedelta(hours=25)) == []
    finally:
        store.close()
