"""Part of the ``audit`` section of ``scripts/bench.py``: the risk-alert checks of ``ledger audit``.

A ledger of 100k records (10k with --quick) is built on the embedded chain as
the platform builds it: two monthly files of the same co-funded book, the
second with random new days past due, statuses and five-class grades (so every
kind of per-loan alert is raised), submitted in 1000-record batches with
alerts derived at ingest, and the alert log sealed and anchored (kind 4).

Timed in the same run, on the same store and replayed chain state:

- ``audit_alerts_base_seconds_<n>k``: the audit without the alert checks
  (replay, store batches and leaves, consents, inquiries): the baseline;
- ``audit_alerts_seconds_<n>k``: the alert checks alone (alert log against its
  anchors, every per-loan alert recomputed from the anchored records, the
  delivery window);
- ``audit_alerts_to_base_ratio``: the second over the first.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from ledger.audit import AuditReport, AuditTarget, audit
from ledger.audit.alert_checks import AlertChecks, check_alerts
from ledger.chain import Chain, Deployment, deploy
from ledger.config import Settings
from ledger.records import write_csv
from ledger.records.generate import synthetic_rows
from ledger.records.schema import BUCKETS
from ledger.store import Store
from ledger.wiring import Ledger

BATCH = 1000
DPD = (0, 0, 0, 5, 20, 35, 65, 95, 200)


def next_month(row: dict[str, Any], period: str, rng: random.Random) -> dict[str, Any]:
    """``row`` reported again for ``period`` with a random repayment state that validates."""
    out = {k: v for k, v in row.items() if k != "last_payment_date" and k not in BUCKETS}
    dpd = rng.choice(DPD)
    out |= {
        "report_id": f"{row['report_id']}-{period}",
        "period": period,
        "report_date": f"{period}-28",
        "days_past_due": dpd,
        "account_status": rng.choice(("1", "2", "2", "4", "5")),
        "five_class": rng.choice("12345"),
        "balance": "100.00",
        "overdue_amount": "30.00" if dpd else "0.00",
        "overdue_instalments": 1 + dpd // 30 if dpd else 0,
    }
    if dpd > 30:
        out[BUCKETS[min((dpd - 1) // 30 - 1, len(BUCKETS) - 1)]] = "10.00"
    return out


def bench_alert_audit(quick: bool) -> dict[str, Any]:
    records = 10_000 if quick else 100_000
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory(prefix="credit-anchor-alert-audit-") as tmp:
        data_dir = Path(tmp)
        with Chain.embedded(data_dir, holder="bench") as chain:
            deploy(chain, data_dir)
        book = list(synthetic_rows(records // 2, seed=2026))
        write_csv(book, data_dir / "m1.csv")
        write_csv([next_month(r, "2026-01", rng) for r in book], data_dir / "m2.csv")
        settings = Settings(data_dir=data_dir, batch_size=BATCH)
        with Ledger.open(settings, holder="bench") as ledger:
            for name in ("m1.csv", "m2.csv"):
                done = ledger.submitter().submit(data_dir / name)
                assert done.rejected == 0, done.rejections[:3]
            ledger.anchor_alerts(force=True)
        deployment = Deployment.load(data_dir / "deployment.json")
        store = Store.open(data_dir)
        try:
            with Chain.embedded(data_dir, holder="bench audit", read_only=True) as chain:
                started = time.perf_counter()
                report, state = audit(chain, AuditTarget.of(deployment), store=store, alerts=None)
                base = time.perf_counter() - started
            alerts = AuditReport()
            started = time.perf_counter()
            check_alerts(store, state, alerts, AlertChecks())
            checks = time.perf_counter() - started
        finally:
            store.close()
    assert report.clean and alerts.clean, alerts.to_json()["findings"][:5]
    size = f"{records // 1000}k"
    return {
        f"audit_alerts_base_seconds_{size}": round(base, 2),
        f"audit_alerts_seconds_{size}": round(checks, 2),
        "audit_alerts_to_base_ratio": round(checks / base, 3),
        "audit_alerts_recomputed": alerts.checked["alert_transitions"],
        "audit_alerts_log_entries": alerts.checked["alert_log_entries"],
    }
