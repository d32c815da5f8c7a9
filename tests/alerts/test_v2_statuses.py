"""Schema v2's statuses 7 (forced liquidation) and 8 (judicial recovery) reach the risk alerts:
v2 records go through the real pipeline stages, and their facts raise
``account.status_changed`` like any status the alerts cover."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.alerts.events import ALERT_STATUSES, STATUS_CHANGED, transitions
from ledger.ingest import pipeline
from ledger.records import codes, write_jsonl
from tests.ingest.test_pipeline import _stages
from tests.records.sample import ORG, ORG2, overdue_row


def test_the_alerts_cover_the_v2_statuses_7_and_8() -> None:
    assert {"7", "8"} <= set(ALERT_STATUSES)
    assert set(ALERT_STATUSES) <= set(codes.LOAN_STATUSES) | set(codes.CARD_STATUSES)
    assert "1" not in ALERT_STATUSES and "2" not in ALERT_STATUSES


@pytest.mark.parametrize(("account_type", "status"), [("D1", "7"), ("D1", "8"), ("R2", "31")])
def test_a_v2_move_to_7_8_or_a_card_stop_raises_status_changed(
    tmp_path: Path, data_dir: Path, account_type: str, status: str
) -> None:
    funders = [{"org_code": ORG, "share_bp": 6000}, {"org_code": ORG2, "share_bp": 4000}]
    card = {"business_type": "81", "credit_limit": "200000.00", "due_date": None}
    base = (
        overdue_row()
        | (card if account_type == "R2" else {})
        | {
            "account_type": account_type,
            "schema_version": 2,
            "repayment_frequency": "03",
            "report_reason": "30",
            "funders": funders,
        }
    )
    previous = "1" if account_type == "R2" else "2"  # a card in arrears is current (1)
    rows = [
        base
        | {"report_id": "R-1", "period": "2025-02", "report_date": "2025-03-02"}
        | {"last_payment_date": "2025-02-15", "account_status": previous},
        base | {"report_id": "R-2", "account_status": status},
    ]
    path = tmp_path / "v2.jsonl"
    write_jsonl(rows, path)
    (done,) = list(pipeline.results(path, _stages(data_dir)))
    assert not done.refused
    assert done.facts is not None
    events = transitions(done.facts, [])
    changed = events.filter(events.get_column("event") == STATUS_CHANGED)
    assert changed.select("row", "status", "prev_status").rows() == [(2, status, previous)]
