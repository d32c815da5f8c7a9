"""The delivery window on its own: a store whose alerts no bank received or acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger.alerts.outbox import NewAlert, acknowledge, enqueue
from ledger.audit import AuditReport
from ledger.audit.alert_log import check_window
from ledger.store import Store

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
