"""Alerts from real submissions: queued with the batch that caused them, only to its funders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.alerts.outbox import alerts_after
from ledger.config import Settings
from ledger.records import write_csv
from ledger.records.generate import synthetic_rows
from ledger.store import Batch
from ledger.wiring import Ledger

OTHER_BANK = "91440300MA5FXXXX0Y"


@pytest.fixture
def ledger(data_dir: Path, deploy_copy: Callable[[Path], Path]) -> Iterator[Ledger]:
    deploy_copy(data_dir)  # what `ledger deploy` leaves
    settings = Settings(data_dir=data_dir, rpc_url=None, db_url=None)
    with Ledger.open(settings, holder="pytest") as opened:
        yield opened


def month(rows: list[dict[str, Any]], period: str, dpd: int, tag: str) -> list[dict[str, Any]]:
    """The same loans reported for ``period``, each ``dpd`` days past due."""
    out = []
    for row in rows:
        moved = {**row, "report_id": f"{row['report_id']}-{tag}", "period": period}
        moved["report_date"] = f"{period}-28"
        moved["days_past_due"] = dpd
        out.append(moved)
    return out


def overdue_co_funded(count: int) -> list[dict[str, Any]]:
    rows = [
        r
        for r in synthetic_rows(400, seed=7)
        if r.get("funders") and int(r["days_past_due"]) > 0 and r["account_status"] == "2"
    ]
    assert len(rows) >= count
    return rows[:count]


def test_a_loan_rolling_to_the_next_band_alerts_each_funder_once(
    ledger: Ledger, tmp_path: Path
) -> None:
    loans = overdue_co_funded(3)
    funders = {f["org_code"] for r in loans for f in r["funders"]}
    write_csv(month(loans, "2025-01", 10, "jan"), tmp_path / "jan.csv")
    write_csv(month(loans, "2025-02", 40, "feb"), tmp_path / "feb.csv")

    january = ledger.submitter().submit(tmp_path / "jan.csv")
    assert january.accepted == 3
    with ledger.store.session() as s:
        first = {bank: alerts_after(s, bank, 0, 1000) for bank in funders}
    entered = [a for alerts in first.values() for a in alerts if a.batch_id is not None]
    assert {a.type for a in entered} == {"overdue.entered"}
    # Every loan of the book is overdue: a bank whose book breaches a threshold (one
    # with some balance) goes up a level, said once.
    for alerts in first.values():
        breached = [a for a in alerts if a.type == "portfolio.threshold_breached"]
        changed = [a for a in alerts if a.type == "plan.level_changed"]
        assert len(changed) == (1 if breached else 0)
    assert any(a.type == "plan.level_changed" for alerts in first.values() for a in alerts)
    assert len(entered) == sum(len(r["funders"]) for r in loans)  # one per loan and funder

    february = ledger.submitter().submit(tmp_path / "feb.csv")
    with ledger.store.session() as s:
        batch_ids = set(s.scalars(Batch.__table__.select().with_only_columns(Batch.batch_id)))
        later = {bank: alerts_after(s, bank, 0, 1000) for bank in funders}
        assert alerts_after(s, OTHER_BANK, 0, 1000) == []  # not a funder: nothing
    rolled = [a for alerts in later.values() for a in alerts if a.type == "overdue.bucket_rolled"]
    assert len(rolled) == len(entered)
    for alert in rolled:
        data = orjson.loads(alert.body)["data"]
        assert (data["bucket"], data["days_past_due"]) == ({"from": 1, "to": 2}, 40)
        assert data["batch_id"] == february.batches[0].batch_id and alert.batch_id in batch_ids
        anchored = february.batches[0]
        assert data["anchor"] == {
            "chain_id": ledger.deployment.chain_id,
            "registry": ledger.deployment.anchor_registry,
            "kind": 1,
            "root": anchored.root,
        }
        # the basis: the leaf hash of the record that caused it, in the anchored batch
        assert data["leaf_hash"].startswith("0x") and len(data["leaf_hash"]) == 66
    texts = b"".join(a.body for alerts in later.values() for a in alerts)
    for row in loans:  # nothing personal, not even the account's pseudonym
        for value in (row["subject_name"], row["subject_id_number"], row["subject_mobile"],
                      row["account_id"]):  # fmt: skip
            assert str(value).encode() not in texts

    # The same file again is the same submission: nothing new is said.
    again = ledger.submitter().submit(tmp_path / "feb.csv")
    assert again.already_complete
    with ledger.store.session() as s:
        assert {bank: alerts_after(s, bank, 0, 1000) for bank in funders} == later
