"""The alert log: alerts, delivery attempts and acknowledgements sealed into kind-4 batches,
anchored once, provable, and nothing personal in them; a kill -9 mid-seal loses nothing."""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from ledger.alerts.alertlog import ALERT_LOG_FORMAT, AlertLog
from ledger.alerts.destinations import Allowlist
from ledger.alerts.dispatcher import DispatchConfig, Dispatcher
from ledger.alerts.endpoints import set_endpoint
from ledger.alerts.outbox import acknowledge, alerts_after
from ledger.alerts.sealing import Sealer
from ledger.anchoring.bundles import bundle_for
from ledger.chain import Chain, Deployment
from ledger.chain.registry import AnchorRegistryClient
from ledger.chain.types import BatchKind
from ledger.config import Settings
from ledger.proofs import verify_bundle
from ledger.records import write_csv
from ledger.store import Batch, Store, leaves
from ledger.store.alerts import Acknowledgement, Alert, DeliveryAttempt
from ledger.store.apikeys import create_key
from ledger.wiring import Ledger
from tests.alerts._banks import Bank
from tests.alerts.test_submit_alerts import month, overdue_co_funded
from tests.cli._cli import run

LOANS = 3


@pytest.fixture
def ledger(data_dir: Path, deploy_copy: Callable[[Path], Path]) -> Iterator[Ledger]:
    deploy_copy(data_dir)  # what `ledger deploy` leaves
    settings = Settings(
        data_dir=data_dir,
        rpc_url=None,
        db_url=None,
        alert_allow_hosts=("127.0.0.1",),
        alert_retry_schedule=(60.0,),  # one attempt per run(once=True)
    )
    with Ledger.open(settings, holder="pytest") as opened:
        yield opened


def _webhook(ledger: Ledger, institution: str, bank: Bank) -> None:
    create_key(ledger.store, f"key-{institution}", "partner", institution=institution)
    allow = Allowlist.parse(ledger.settings.alert_allow_hosts)
    sealer = Sealer.for_data_dir(ledger.settings.data_dir)
    set_endpoint(ledger.store, sealer, institution, bank.url, allow=allow)


def _dispatch(ledger: Ledger) -> None:
    sealer = Sealer.for_data_dir(ledger.settings.data_dir)
    Dispatcher(ledger.store, sealer, DispatchConfig.from_settings(ledger.settings)).run(once=True)


def _log_rows(ledger: Ledger) -> list[tuple[str | None, int | None]]:
    with ledger.store.session() as s:
        return [
            (batch_id, index)
            for table in (Alert, DeliveryAttempt, Acknowledgement)
            for batch_id, index in s.execute(select(table.log_batch_id, table.log_index))
        ]


def test_alerts_attempts_and_acks_are_sealed_into_one_anchored_kind_4_batch(
    ledger: Ledger, tmp_path: Path
) -> None:
    loans = overdue_co_funded(LOANS)
    pushed = loans[0]["funders"][0]["org_code"]
    pulled = next(f["org_code"] for r in loans for f in r["funders"] if f["org_code"] != pushed)
    bank = Bank().start()
    try:
        _webhook(ledger, pushed, bank)
        write_csv(month(loans, "2025-01", 10, "jan"), tmp_path / "jan.csv")
        ledger.submitter().submit(tmp_path / "jan.csv")
        _dispatch(ledger)
    finally:
        bank.stop()
    assert bank.received and all(r.status == 200 for r in bank.received)
    with ledger.store.session() as s, s.begin():
        (first, *_) = alerts_after(s, pulled, 0, 10)
        acknowledge(s, pulled, first.id, by="risk-desk")
        alerts = s.execute(select(Alert.id, Alert.body)).all()
        attempts = list(s.scalars(select(DeliveryAttempt)))
    assert len(attempts) == len(
        [a for a in alerts if a.id in {r.webhook_id for r in bank.received}]
    )

    assert ledger.anchor_alerts() == []  # a few fresh entries: not due yet
    (sealed,) = ledger.anchor_alerts(force=True)
    with ledger.store.session() as s:
        batch = s.get_one(Batch, sealed)
    size = len(alerts) + len(attempts) + 1
    assert (batch.kind, batch.status, batch.tree_size) == (
        int(BatchKind.ALERT_LOG),
        "anchored",
        size,
    )
    assert sorted(_log_rows(ledger)) == [(sealed, i) for i in range(size)]  # each entry once
    on_chain = ledger.registry.anchor_by_batch(bytes.fromhex(sealed[2:]))
    assert on_chain is not None and on_chain.kind == int(BatchKind.ALERT_LOG)
    assert "0x" + on_chain.root.hex() == batch.root

    # Each entry proves against the anchored root, and says what happened.
    alert_bundle = bundle_for(ledger.store, first.id)
    verify_bundle(alert_bundle)
    assert alert_bundle.record is not None
    assert alert_bundle.record["format"] == ALERT_LOG_FORMAT
    assert alert_bundle.record["institution"] == pulled
    assert alert_bundle.record["body_hash"] == "0x" + hashlib.sha256(first.body).hexdigest()
    attempt = attempts[0]
    attempt_bundle = bundle_for(ledger.store, f"{attempt.alert_id}/attempt/{attempt.id}")
    verify_bundle(attempt_bundle)
    assert attempt_bundle.record is not None
    assert (attempt_bundle.record["status"], attempt_bundle.record["outcome"]) == (200, "delivered")
    ack_bundle = bundle_for(ledger.store, f"{first.id}/ack")
    verify_bundle(ack_bundle)
    assert ack_bundle.record is not None and ack_bundle.record["entry"] == "ack"

    # Nothing personal in any entry: not a name, an ID, a mobile, nor the account.
    with ledger.store.session() as s:
        stored = b"".join(leaf.canonical or b"" for leaf in leaves.batch_leaves(s, sealed))
    for row in loans:
        for value in (row["subject_name"], row["subject_id_number"], row["subject_mobile"],
                      row["account_id"]):  # fmt: skip
            assert str(value).encode() not in stored
    assert b"account_pseudonym" not in stored and b"lr_" not in stored  # no loan reference

    # Exactly once: a new acknowledgement is the next batch's only entry.
    with ledger.store.session() as s, s.begin():
        second = alerts_after(s, pushed, 0, 10)[0]
        acknowledge(s, pushed, second.id, by="risk-desk")
    (again,) = ledger.anchor_alerts(force=True)
    with ledger.store.session() as s:
        assert s.get_one(Batch, again).tree_size == 1
    assert ledger.anchor_alerts(force=True) == []
    assert ledger.registry.anchor_count() == 3  # the credit-data batch and two log batches


def test_the_alert_log_is_due_by_size_or_by_age(ledger: Ledger, tmp_path: Path) -> None:
    log = AlertLog(ledger.store, submitter=ledger.chain.address.lower())
    assert log.unsealed() == (0, None) and not log.due(seconds=0)
    write_csv(month(overdue_co_funded(LOANS), "2025-01", 10, "jan"), tmp_path / "jan.csv")
    ledger.submitter().submit(tmp_path / "jan.csv")
    count, oldest = log.unsealed()
    assert count > LOANS and oldest is not None
    written = datetime.fromisoformat(oldest.replace("Z", "+00:00"))
    assert not log.due(now=written + timedelta(seconds=59), seconds=60)
    assert log.due(now=written + timedelta(seconds=60), seconds=60)
    assert log.due(now=written, size=count) and not log.due(now=written, size=count + 1)
    ledger.settings.alert_seal_size = count
    assert len(ledger.anchor_alerts()) == 1 and log.unsealed() == (0, None)


def test_a_batch_is_never_larger_than_its_limit(ledger: Ledger, tmp_path: Path) -> None:
    write_csv(month(overdue_co_funded(LOANS), "2025-01", 10, "jan"), tmp_path / "jan.csv")
    ledger.submitter().submit(tmp_path / "jan.csv")
    log = AlertLog(ledger.store, submitter=ledger.chain.address.lower())
    count, _ = log.unsealed()
    first, second = log.seal(limit=count - 1), log.seal(limit=count - 1)
    assert first is not None and second is not None and log.seal() is None
    with ledger.store.session() as s:
        assert [s.get_one(Batch, b).tree_size for b in (first, second)] == [count - 1, 1]


def _anchors(data_dir: Path) -> int:
    deployment = Deployment.load(data_dir / "deployment.json")
    with Chain.embedded(data_dir, holder="pytest", read_only=True) as chain:
        return AnchorRegistryClient.from_deployment(chain, deployment).anchor_count()


@pytest.mark.parametrize("point", ["alerts-sealed", "anchor-mined"])
def test_a_seal_killed_midway_is_anchored_exactly_once(
    data_dir: Path, tmp_path: Path, point: str, deploy_copy: Callable[[Path], Path]
) -> None:
    env = {"LEDGER_DATA_DIR": str(deploy_copy(data_dir))}
    write_csv(month(overdue_co_funded(LOANS), "2025-01", 10, "jan"), tmp_path / "jan.csv")
    assert run("submit", str(tmp_path / "jan.csv"), env=env).returncode == 0
    killed = run("alerts", "seal", "--force", env={**env, "LEDGER_FAILPOINTS": point})
    assert killed.returncode == -signal.SIGKILL
    store = Store.open(data_dir)
    with store.session() as s:
        (pending,) = s.scalars(select(Batch).where(Batch.kind == int(BatchKind.ALERT_LOG)))
        assert pending.status == "pending"  # sealed and stored; its anchor not recorded
        sealed = set(s.scalars(select(Alert.log_batch_id)))
    store.close()
    assert sealed == {pending.batch_id}
    resumed = run("alerts", "seal", "--json", env=env)  # nothing new is due; the batch is anchored
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert orjson.loads(resumed.stdout) == {"sealed": []}
    store = Store.open(data_dir)
    with store.session() as s:
        batches = list(s.scalars(select(Batch).where(Batch.kind == int(BatchKind.ALERT_LOG))))
    store.close()
    assert [(b.batch_id, b.status) for b in batches] == [(pending.batch_id, "anchored")]
    assert _anchors(data_dir) == 2  # the credit-data batch and the one log batch, once
