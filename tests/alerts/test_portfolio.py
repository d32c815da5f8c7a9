"""Each bank's book against the plan: thresholds, levels, and a plan change, on a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ledger.alerts.derive import Deriver
from ledger.alerts.events import risk_facts
from ledger.alerts.outbox import NewAlert
from ledger.alerts.payloads import loan_refs
from ledger.alerts.plan import DEFAULT_PLAN, Plan
from ledger.store import Store
from tests.alerts.conftest import as_new_alerts
from tests.alerts.test_events import output

REGISTRY = {"chain_id": 1337, "registry": "0x" + "12" * 20}
BANK_A, BANK_B = "91310000MA1FL0001X", "91110000MA0000002Y"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path)
    yield opened
    opened.close()


class Outbox:
    """Collects what the deriver queues (the test's sink, in the same transaction)."""

    def __init__(self) -> None:
        self.alerts: list[NewAlert] = []

    def __call__(self, _session: object, alerts: pl.DataFrame | list[NewAlert]) -> None:
        self.alerts.extend(as_new_alerts(alerts) if isinstance(alerts, pl.DataFrame) else alerts)

    def of(self, kind: str) -> list[NewAlert]:
        return [a for a in self.alerts if a.event_type == kind]


def submit(store: Store, deriver: Deriver, records: list[dict[str, Any]], batch: str) -> None:
    frame = output(*records)
    facts = risk_facts(frame, pl.Series(["ab" * 32] * frame.height))
    assert facts is not None
    with store.session() as s, s.begin():
        deriver.derive(s, batch, "0x" + "77" * 32, facts)
        deriver.finish(s)


def loans(period: str, dpds: list[int], funders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "account_pseudonym": f"0x{i:064x}",
            "period": period,
            "days_past_due": dpd,
            "overdue_amount": "5.00" if dpd else "0.00",
            "funders": funders,
        }
        for i, dpd in enumerate(dpds)
    ]


def test_a_deteriorating_book_raises_the_level_and_a_healthy_one_lowers_it(store: Store) -> None:
    sink = Outbox()
    deriver = Deriver(Plan.load(), loan_refs(b"k" * 32), sink, registry=REGISTRY)
    both = [{"org_code": BANK_A, "share_bp": 5000}, {"org_code": BANK_B, "share_bp": 5000}]
    submit(store, deriver, loans("2024-01", [0] * 18 + [10, 20], both), "0x01")
    # 2 of 20 equal loans 1+ days past due: m1+ 10% > 5% -> level 2 for both banks
    breached = sink.of("portfolio.threshold_breached")
    assert {(a.institution, a.data["metric"]) for a in breached} == {
        (BANK_A, "m1_plus_balance_ratio"), (BANK_B, "m1_plus_balance_ratio"),
    }  # fmt: skip
    assert breached[0].data["value"] == "0.1" and breached[0].data["above"] == "0.05"
    changed = sink.of("plan.level_changed")
    assert [(a.data["from"], a.data["to"], a.data["name"]) for a in changed] == [
        (1, 2, "elevated")
    ] * 2
    assert changed[0].data["actions"] and changed[0].batch_id is None

    sink.alerts.clear()  # next month both roll from band 1 to band 2: roll rate 100%
    submit(store, deriver, loans("2024-02", [0] * 18 + [40, 50], both), "0x02")
    rolled = {a.data["metric"] for a in sink.of("portfolio.threshold_breached")}
    assert rolled == {"m1_plus_balance_ratio", "m1_m2_roll_rate", "m2_plus_balance_ratio"}
    assert {a.data["to"] for a in sink.of("plan.level_changed")} == {3}

    sink.alerts.clear()  # all cured: back to level 1, said once per bank
    submit(store, deriver, loans("2024-03", [0] * 20, both), "0x03")
    assert sink.of("portfolio.threshold_breached") == []
    assert [(a.data["from"], a.data["to"]) for a in sink.of("plan.level_changed")] == [(3, 1)] * 2
    sink.alerts.clear()
    submit(store, deriver, loans("2024-04", [0] * 20, both), "0x04")
    assert sink.of("plan.level_changed") == []  # no change, no event


def test_a_bank_hears_only_of_its_own_book(store: Store) -> None:
    sink = Outbox()
    deriver = Deriver(Plan.load(), loan_refs(b"k" * 32), sink, registry=REGISTRY)
    records = loans("2024-01", [95], [{"org_code": BANK_A, "share_bp": 10000}])
    records += loans("2024-01", [0], [{"org_code": BANK_B, "share_bp": 10000}])
    records[1]["account_pseudonym"] = "0x" + "ee" * 32
    submit(store, deriver, records, "0x01")
    assert {a.institution for a in sink.alerts} == {BANK_A}


def test_a_new_plan_in_force_is_an_event(store: Store, tmp_path: Path) -> None:
    sink = Outbox()
    funders = [{"org_code": BANK_A, "share_bp": 10000}]
    submit(
        store,
        Deriver(Plan.load(), loan_refs(b"k" * 32), sink, registry=REGISTRY),
        loans("2024-01", [0], funders),
        "0x01",
    )
    assert sink.alerts == []
    changed = tmp_path / "plan.toml"
    changed.write_text(
        DEFAULT_PLAN.read_text(encoding="utf-8").replace("version = 1", "version = 2")
    )
    submit(
        store,
        Deriver(Plan.load(changed), loan_refs(b"k" * 32), sink, registry=REGISTRY),
        loans("2024-02", [0], funders),
        "0x02",
    )
    [event] = sink.alerts
    assert (event.event_type, event.data["reason"], event.data["plan"]["version"]) == (
        "plan.level_changed", "plan_changed", 2,
    )  # fmt: skip
