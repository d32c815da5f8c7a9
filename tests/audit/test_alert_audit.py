"""``ledger audit`` on risk alerts: the anchored alert log, every alert recomputed, the window.

A ledger is built once per module with real submissions through
:class:`~ledger.wiring.Ledger` on the embedded chain: twelve co-funded loans over
five months, with random days past due, statuses and five-class grades, a month
holding two periods of the same loans, and a correction of an earlier period;
batches of five records, so loans cross batches. One funder has a webhook (a real
HTTP bank on loopback), another acknowledges an alert, the log is sealed and
anchored, and one more month is left unsealed. Each test tampers with its own
copy of the store, as an operator with database access could.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import delete, select, update

from ledger.alerts.alertlog import ACK_COLUMNS, ALERT_COLUMNS, ATTEMPT_COLUMNS
from ledger.alerts.destinations import Allowlist
from ledger.alerts.dispatcher import DispatchConfig, Dispatcher
from ledger.alerts.endpoints import set_endpoint
from ledger.alerts.events import RECORD_EVENTS
from ledger.alerts.outbox import NewAlert, acknowledge, enqueue
from ledger.alerts.plan import DEFAULT_PLAN, Plan
from ledger.alerts.sealing import Sealer
from ledger.audit import AuditReport, AuditTarget, audit
from ledger.audit.alert_checks import AlertChecks
from ledger.chain import Chain, Deployment
from ledger.config import Settings
from ledger.records import write_csv
from ledger.records.generate import synthetic_rows
from ledger.store import Rebuild, Store
from ledger.store.alerts import Acknowledgement, Alert, DeliveryAttempt
from ledger.store.apikeys import create_key
from ledger.store.db import default_url
from ledger.wiring import Ledger
from tests.alerts._banks import Bank
from tests.audit.conftest import codes
from tests.cli._cli import one_error_line, run
from tests.conftest import copy_deployment

LOANS = 12
MONTHS = ("2026-01", "2026-02", "2026-03", "2026-04")
OTHER_BANK = "91440300MA5FXXXX0Y"  # funds none of the loans


def _reported(row: dict[str, Any], period: str, rng: random.Random, tag: str) -> dict[str, Any]:
    """``row`` reported for ``period`` with a random, valid repayment state."""
    out = {k: v for k, v in row.items() if k != "last_payment_date"}
    out |= {"report_id": f"{row['report_id']}-{tag}", "period": period}
    out["report_date"] = f"{period}-28"
    dpd = rng.choice((0, 0, 5, 20, 35, 65, 95, 200))
    out["days_past_due"] = dpd
    out["account_status"] = rng.choice(("1", "2", "2", "4", "5"))
    out["five_class"] = rng.choice("12345")
    out["balance"] = "100.00"
    for name in ("overdue_principal_31_60", "overdue_principal_61_90",
                 "overdue_principal_91_180", "overdue_principal_180_plus"):  # fmt: skip
        out.pop(name, None)
    if dpd == 0:
        out |= {"overdue_amount": "0.00", "overdue_instalments": 0}
    else:
        out |= {"overdue_amount": "30.00", "overdue_instalments": 1 + dpd // 30}
        if dpd > 30:
            bucket = {35: "31_60", 65: "61_90", 95: "91_180"}.get(dpd, "180_plus")
            out[f"overdue_principal_{bucket}"] = "10.00"
    return out


@dataclass(frozen=True)
class AlertLedger:
    data_dir: Path
    pushed: str  # the funder with a webhook
    pulled: str  # a funder without one, who acknowledged ``acked``
    acked: str


def _build(data_dir: Path, tmp: Path) -> AlertLedger:
    rng = random.Random(18)
    loans = [r for r in synthetic_rows(400, seed=7) if r.get("funders")][:LOANS]
    pushed = loans[0]["funders"][0]["org_code"]
    pulled = next(f["org_code"] for r in loans for f in r["funders"] if f["org_code"] != pushed)
    months = [[_reported(r, p, rng, p) for r in loans] for p in MONTHS]
    months[2] += [_reported(r, "2026-02", rng, "fix") for r in loans[:4]]  # corrections
    months[3] = [_reported(r, "2026-05", rng, "may") for r in loans[:6]] + months[3]
    settings = Settings(
        data_dir=data_dir,
        rpc_url=None,
        db_url=None,
        batch_size=5,
        alert_allow_hosts=("127.0.0.1",),
        alert_retry_schedule=(60.0,),
    )
    bank = Bank().start()
    with Ledger.open(settings, holder="pytest") as ledger:
        create_key(ledger.store, "key-pushed", "partner", institution=pushed)
        sealer = Sealer.for_data_dir(data_dir)
        set_endpoint(ledger.store, sealer, pushed, bank.url, allow=Allowlist.parse(("127.0.0.1",)))
        dispatcher = Dispatcher(ledger.store, sealer, DispatchConfig.from_settings(settings))
        for n, rows in enumerate(months):
            write_csv(rows, tmp / f"m{n}.csv")
            report = ledger.submitter().submit(tmp / f"m{n}.csv")
            assert report.rejected == 0, report
            dispatcher.run(once=True)
        with ledger.store.session() as s, s.begin():
            acked = s.scalars(select(Alert.id).where(Alert.institution == pulled)).first()
            assert acked is not None
            acknowledge(s, pulled, acked, by="risk-desk")
        assert ledger.anchor_alerts(force=True)
        write_csv([_reported(r, "2026-06", rng, "jun") for r in loans], tmp / "jun.csv")
        ledger.submitter().submit(tmp / "jun.csv")  # its alerts stay unsealed
    bank.stop()
    return AlertLedger(data_dir, pushed, pulled, acked)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, deployed_template: Path) -> AlertLedger:
    tmp = tmp_path_factory.mktemp("alert-audit")
    data_dir = copy_deployment(deployed_template, tmp / "data")  # what `ledger deploy` leaves
    return _build(data_dir, tmp)


@pytest.fixture
def book(template: AlertLedger, tmp_path: Path) -> AlertLedger:
    """A private copy of the template (store and chain)."""
    shutil.copytree(template.data_dir, tmp_path / "data")
    return AlertLedger(**{**template.__dict__, "data_dir": tmp_path / "data"})


def _audit(book: AlertLedger, checks: AlertChecks | None = None) -> AuditReport:
    """The audit of the platform's own store (the data dir's)."""
    return _audit_store(book, default_url(book.data_dir), checks)


@pytest.fixture
def store(book: AlertLedger) -> Iterator[Store]:
    opened = Store.open(book.data_dir)
    yield opened
    opened.close()


def _alerts(store: Store, *where: Any) -> list[Any]:
    with store.session() as s:
        return list(s.scalars(select(Alert).where(*where).order_by(Alert.seq)))


def _data(alert: Alert) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(alert.body)["data"]
    return data


def _failing(report: AuditReport, code: str) -> list[dict[str, Any]]:
    return [f.to_json() for f in report.failing if f.code == code]


def test_a_clean_ledger_audits_clean(book: AlertLedger, store: Store) -> None:
    report = _audit(book)
    assert report.clean, report.to_json()["findings"]
    per_loan = _alerts(store, Alert.type.in_(RECORD_EVENTS))
    # every kind of transition was made, sealed or not, and recomputed from the records
    assert {a.type for a in per_loan} == set(RECORD_EVENTS)
    assert (
        report.checked["alert_transitions"] == len(per_loan) == report.checked["alerts_recomputed"]
    )
    sealed = [a for a in _alerts(store) if a.log_batch_id is not None]
    assert 0 < len(sealed) < len(_alerts(store))  # the last month is not sealed yet
    assert report.checked["alert_log_entries"] >= len(sealed) + 1  # + attempts and the ack


def test_a_deleted_alert_is_missing_from_the_log_and_from_the_recompute(
    book: AlertLedger, store: Store
) -> None:
    sealed, unsealed = (
        _alerts(store, Alert.institution == book.pulled, Alert.type.in_(RECORD_EVENTS),
                Alert.id != book.acked, Alert.log_batch_id.is_not(None))[0],
        _alerts(store, Alert.type.in_(RECORD_EVENTS), Alert.log_batch_id.is_(None),
                Alert.institution == book.pulled)[0],
    )  # fmt: skip
    with store.session() as s, s.begin():
        s.execute(delete(Alert).where(Alert.id.in_([sealed.id, unsealed.id])))
    report = _audit(book)
    assert codes(report) == {"ALERT_LOG_ENTRY_MISSING", "ALERT_MISSING"}
    (gone,) = _failing(report, "ALERT_LOG_ENTRY_MISSING")
    assert (gone["batch_id"], gone["leaf_index"]) == (sealed.log_batch_id, sealed.log_index)
    missing = _failing(report, "ALERT_MISSING")
    assert sorted(f["expected"] for f in missing) == sorted(
        f"{a.type} to {a.institution}" for a in (sealed, unsealed)
    )
    assert {f["batch_id"] for f in missing} == {
        _data(sealed)["batch_id"],
        _data(unsealed)["batch_id"],
    }


def test_a_forged_alert_is_its_own_finding(book: AlertLedger, store: Store) -> None:
    real = _alerts(store, Alert.institution == book.pulled, Alert.type == "overdue.entered")[0]
    basis = _data(real)
    with store.session() as s, s.begin():
        made_up, unknown_leaf = enqueue(
            s,
            [
                NewAlert(book.pulled, "account.five_class_downgraded", basis, real.batch_id),
                NewAlert(book.pulled, "overdue.entered", basis | {"leaf_hash": "0x" + "5a" * 32},
                         real.batch_id),
            ],
        )  # fmt: skip
    report = _audit(book)
    assert codes(report) == {"ALERT_FORGED"}
    assert {f["alert_id"] for f in _failing(report, "ALERT_FORGED")} == {made_up, unknown_leaf}


def test_an_alert_to_a_non_funder_is_its_own_finding(book: AlertLedger, store: Store) -> None:
    real = _alerts(store, Alert.type == "overdue.bucket_rolled")[0]
    with store.session() as s, s.begin():
        (leaked,) = enqueue(s, [NewAlert(OTHER_BANK, real.type, _data(real), real.batch_id)])
    report = _audit(book)
    assert codes(report) == {"ALERT_TO_NON_FUNDER"}
    (finding,) = _failing(report, "ALERT_TO_NON_FUNDER")
    assert (finding["alert_id"], finding["found"]) == (leaked, OTHER_BANK)
    assert finding["batch_id"] == real.batch_id


def test_an_altered_log_entry_is_a_mismatch(book: AlertLedger, store: Store) -> None:
    sealed = _alerts(store, Alert.log_batch_id.is_not(None), Alert.type.in_(RECORD_EVENTS))[0]
    altered = orjson.loads(sealed.body)
    altered["data"]["days_past_due"] += 1
    with store.session() as s, s.begin():
        s.execute(update(Alert).where(Alert.id == sealed.id).values(body=orjson.dumps(altered)))
        s.execute(
            update(Acknowledgement)
            .where(Acknowledgement.alert_id == book.acked)
            .values(acknowledged_at="2020-01-01T00:00:00Z")
        )
    report = _audit(book)
    assert codes(report) == {"ALERT_LOG_ENTRY_MISMATCH"}
    assert {f["alert_id"] for f in _failing(report, "ALERT_LOG_ENTRY_MISMATCH")} == {
        sealed.id, book.acked,
    }  # fmt: skip


def test_a_row_slipped_into_a_sealed_place_is_added(book: AlertLedger, store: Store) -> None:
    real = _alerts(store, Alert.log_batch_id.is_not(None), Alert.institution == book.pulled)[0]
    with store.session() as s, s.begin():
        (slipped,) = enqueue(
            s, [NewAlert(book.pulled, "overdue.cured", _data(real), real.batch_id)]
        )
        s.execute(
            update(Alert)
            .where(Alert.id == slipped)
            .values(log_batch_id=real.log_batch_id, log_index=real.log_index)
        )
    report = _audit(book)
    assert codes(report) == {"ALERT_LOG_ENTRY_ADDED", "ALERT_FORGED"}
    (added,) = _failing(report, "ALERT_LOG_ENTRY_ADDED")
    assert (added["alert_id"], added["leaf_index"]) == (slipped, real.log_index)


def test_an_alert_neither_delivered_nor_acknowledged_in_the_window(
    book: AlertLedger, store: Store, tmp_path: Path
) -> None:
    with store.session() as s:
        delivered = set(
            s.scalars(
                select(DeliveryAttempt.alert_id).where(DeliveryAttempt.outcome == "delivered")
            )
        )
    everything = _alerts(store)
    assert delivered and all(a.institution == book.pushed for a in everything if a.id in delivered)
    newest = max(datetime.fromisoformat(a.created_at.replace("Z", "+00:00")) for a in everything)
    assert "ALERT_UNANSWERED" not in codes(_audit(book))  # inside the window: not yet due
    late_ack = next(a for a in everything if a.id not in delivered and a.id != book.acked)
    with store.session() as s, s.begin():
        acknowledge(
            s, late_ack.institution, late_ack.id, by="desk", now=newest + timedelta(hours=30)
        )
    report = _audit(book, AlertChecks(now=newest + timedelta(hours=31)))
    assert codes(report) == {"ALERT_UNANSWERED"}
    unanswered = {f["alert_id"]: f for f in _failing(report, "ALERT_UNANSWERED")}
    assert set(unanswered) == {a.id for a in everything} - delivered - {book.acked}
    assert unanswered[late_ack.id]["found"] == (newest + timedelta(hours=30)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert all(unanswered[a]["found"] is None for a in unanswered if a != late_ack.id)

    # A plan agreeing a longer window: the same alerts are on time.
    plan = tmp_path / "plan.toml"
    plan.write_text(
        DEFAULT_PLAN.read_text(encoding="utf-8").replace("window_hours = 24", "window_hours = 48")
    )
    longer = AlertChecks.of(Plan.load(plan))
    assert longer.window_hours == 48
    relaxed = _audit(book, AlertChecks(window_hours=48, now=newest + timedelta(hours=31)))
    assert relaxed.clean, relaxed.to_json()["findings"]
    assert datetime.now(UTC) < newest + timedelta(hours=1)  # the template was built just now


def test_the_cli_reports_alert_findings_and_refuses_a_bad_plan(
    book: AlertLedger, store: Store, tmp_path: Path
) -> None:
    real = _alerts(store, Alert.type == "overdue.entered")[0]
    with store.session() as s, s.begin():
        (leaked,) = enqueue(s, [NewAlert(OTHER_BANK, real.type, _data(real), real.batch_id)])
    args = ("audit", "--data-dir", str(book.data_dir), "--json")
    done = run(*args, env={"COLUMNS": "400"})
    assert done.returncode == 1, done.stdout + done.stderr
    (finding,) = orjson.loads(done.stdout)["findings"]
    assert (finding["code"], finding["alert_id"], finding["found"]) == (
        "ALERT_TO_NON_FUNDER", leaked, OTHER_BANK,
    )  # fmt: skip
    bad = tmp_path / "plan.toml"
    bad.write_text(
        DEFAULT_PLAN.read_text(encoding="utf-8").replace("window_hours = 24", "window_hours = 0")
    )
    refused = run(*args, "--plan", str(bad))
    assert refused.returncode == 2
    assert "window_hours" in one_error_line(refused)


def _rebuild(
    book: AlertLedger, tmp_path: Path, *, with_store: bool = True
) -> tuple[str, AuditReport]:
    """Export the book, rebuild a store from the chain and the export; its URL, and the audit
    that made it."""
    from ledger.audit import export_records

    export = tmp_path / "export.jsonl"
    platform = Store.open(book.data_dir)
    url = f"sqlite:///{tmp_path / 'rebuilt.sqlite'}"
    rebuilt = Store(url)
    try:
        with export.open("w", encoding="utf-8") as out:
            export_records(platform, out)
        deployment = Deployment.load(book.data_dir / "deployment.json")
        with Chain.embedded(book.data_dir, holder="pytest audit", read_only=True) as chain:
            report, _ = audit(
                chain,
                AuditTarget.of(deployment),
                store=platform if with_store else None,
                records=export,
                rebuild=rebuilt,
            )
    finally:
        platform.close()
        rebuilt.close()
    return url, report


def _audit_store(book: AlertLedger, url: str, checks: AlertChecks | None = None) -> AuditReport:
    deployment = Deployment.load(book.data_dir / "deployment.json")
    store = Store(url)
    try:
        with Chain.embedded(book.data_dir, holder="pytest audit", read_only=True) as chain:
            report, _ = audit(
                chain, AuditTarget.of(deployment), store=store, alerts=checks or AlertChecks()
            )
    finally:
        store.close()
    return report


def _log_rows(url: str) -> dict[str, set[tuple[Any, ...]]]:
    """The sealed alert-log rows of a store, as the log commits to them."""
    store = Store(url)
    try:
        with store.session() as s:
            sealed = [Alert.log_batch_id.is_not(None)]
            return {
                "alerts": set(
                    s.execute(
                        select(*ALERT_COLUMNS, Alert.log_batch_id, Alert.log_index).where(*sealed)
                    )
                ),
                "attempts": set(
                    s.execute(
                        select(
                            *ATTEMPT_COLUMNS,
                            DeliveryAttempt.log_batch_id,
                            DeliveryAttempt.log_index,
                        ).where(DeliveryAttempt.log_batch_id.is_not(None))
                    )
                ),
                "acks": set(
                    s.execute(
                        select(
                            *ACK_COLUMNS, Acknowledgement.log_batch_id, Acknowledgement.log_index
                        ).where(Acknowledgement.log_batch_id.is_not(None))
                    )
                ),
            }
    finally:
        store.close()


def _info(report: AuditReport, code: str) -> list[dict[str, Any]]:
    return [f.to_json() for f in report.findings if f.code == code]


def test_a_rebuilt_store_restores_the_anchored_alert_log_and_audits_clean(
    book: AlertLedger, store: Store, tmp_path: Path
) -> None:
    """Every sealed alert, attempt and acknowledgement comes back from the exported kind-4
    leaves (each alert with the platform's body, which hashes to its entry); an alert the
    log has not sealed yet is not in the rebuild, and its audit says so instead of calling
    it missing or unanswered."""
    url, made = _rebuild(book, tmp_path)
    assert made.clean, made.to_json()["findings"]
    theirs, ours = _log_rows(default_url(book.data_dir)), _log_rows(url)
    assert ours == theirs
    assert theirs["alerts"] and theirs["attempts"] and theirs["acks"]
    assert made.checked["rebuilt_alert_log_rows"] == sum(len(rows) for rows in theirs.values())

    report = _audit_store(book, url)
    assert report.clean, report.to_json()["findings"]
    assert "rebuilt" in report.chain
    assert set(report.codes()) == {"ALERT_NOT_REBUILT"}
    unsealed = _alerts(store, Alert.log_batch_id.is_(None), Alert.type.in_(RECORD_EVENTS))
    assert unsealed
    assert sorted(f["expected"] for f in _info(report, "ALERT_NOT_REBUILT")) == sorted(
        f"{a.type} to {a.institution}" for a in unsealed
    )
    # Past every window: an alert whose answer the log does not hold is not called unanswered.
    newest = max(
        datetime.fromisoformat(a.created_at.replace("Z", "+00:00")) for a in _alerts(store)
    )
    later = _audit_store(book, url, AlertChecks(now=newest + timedelta(hours=31)))
    assert later.clean and "ALERT_UNANSWERED" not in later.codes(), later.to_json()["findings"]
    assert len(_info(later, "ALERT_NOT_REBUILT")) > len(unsealed)


def test_without_the_platform_store_no_alert_is_rebuilt_and_the_audit_says_so(
    book: AlertLedger, tmp_path: Path
) -> None:
    """An entry commits to its alert's body by hash only: with no body to prove, the rebuild
    restores no alert, and its audit reports each as not rebuilt (info), none as missing."""
    url, made = _rebuild(book, tmp_path, with_store=False)
    assert made.clean and made.checked["rebuilt_alert_log_rows"] == 0
    report = _audit_store(book, url)
    # (Nor are its manifests: only the platform's can hash to their anchors.)
    assert {c for c in report.codes() if c.startswith("ALERT_")} == {"ALERT_NOT_REBUILT"}
    assert report.codes()["ALERT_NOT_REBUILT"] == (
        report.checked["alert_log_entries"] + report.checked["alert_transitions"]
    )


def test_a_platform_store_that_claims_to_be_a_rebuild_is_caught(
    book: AlertLedger, store: Store
) -> None:
    """The claim is one row: a store holding submissions or unsealed alerts is no rebuild,
    and its alerts are judged as the platform's."""
    (unsealed, *_) = _alerts(
        store,
        Alert.institution == book.pulled,
        Alert.type.in_(RECORD_EVENTS),
        Alert.log_batch_id.is_(None),
    )
    with store.session() as s, s.begin():
        s.execute(delete(Alert).where(Alert.id == unsealed.id))
        s.add(
            Rebuild(chain_id=1337, to_block=1, log_head="0x" + "00" * 32,
                    rebuilt_at="2026-01-01T00:00:00Z")
        )  # fmt: skip
    report = _audit(book)
    assert codes(report) == {"STORE_REBUILD_CLAIM_FALSE", "ALERT_MISSING"}
    assert "rebuilt" not in report.chain
