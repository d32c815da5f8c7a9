"""Moving a deployment made before kind 4: its AnchorRegistry keeps kinds 1-3 and its history,
and the risk-alert log is anchored at a registry of its own (README, "Moving a deployment").

The registry of before is the artifact committed until kind 4 came
(``data/AnchorRegistry-kinds-1-3.json``: solc 0.8.37, this repository's settings), deployed
here as a data dir of that time has it.
"""

from __future__ import annotations

import hashlib
import json
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from ledger.alerts.outbox import alerts_after
from ledger.anchoring.bundles import bundle_for
from ledger.audit import AuditTarget, audit
from ledger.audit.replay import Replayer
from ledger.chain import Chain, Deployment, check_deployment, deploy
from ledger.chain.artifacts import Artifact
from ledger.chain.attest import check_anchor
from ledger.chain.deploy import (
    ALERT_LOG_REGISTRY,
    KINDS_1_TO_3_CODE_SHA256,
    ROLE_GRANTS,
    RegistryInfo,
    add_alert_log_registry,
    role_id,
    takes_kinds_1_to_3_only,
)
from ledger.chain.errors import DeploymentError, InvalidKind
from ledger.chain.registry import AnchorRegistryClient
from ledger.chain.types import BatchKind
from ledger.proofs import verify_bundle
from ledger.records import write_csv
from ledger.store import Batch, Store
from tests._alert_book import BANK_A, february, january
from tests.cli._cli import one_error_line, run
from tests.contracts.helpers import b32

BEFORE_KIND_4 = Path(__file__).with_name("data") / "AnchorRegistry-kinds-1-3.json"


def kinds_1_to_3() -> Artifact:
    data = json.loads(BEFORE_KIND_4.read_text(encoding="utf-8"))
    return Artifact(
        name="AnchorRegistry",
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        compiler_version=data["compiler"]["version"],
        sources_hash=data["sourcesHash"],
    )


def deploy_before_kind_4(data_dir: Path) -> Deployment:
    """A data dir deployed when the AnchorRegistry took kinds 1-3 only."""
    with Chain.embedded(data_dir, holder="pytest") as chain:
        current, _ = deploy(chain, data_dir)
        old = kinds_1_to_3()
        address, receipt = chain.deploy(old, chain.address)
        contract = chain.contract(old, address)
        for role in ROLE_GRANTS["AnchorRegistry"]:
            chain.transact(contract.functions.grantRole(role_id(role), chain.address))
    info = RegistryInfo(address.lower(), receipt["transactionHash"].to_0x_hex(),
                        int(receipt["blockNumber"]))  # fmt: skip
    before = replace(current, registries={**current.registries, "AnchorRegistry": info})
    before.save(data_dir / "deployment.json")
    return before


def test_the_registry_of_before_is_known_by_its_code_and_takes_kinds_1_to_3(
    data_dir: Path,
) -> None:
    before = deploy_before_kind_4(data_dir)
    with Chain.embedded(data_dir, holder="pytest") as chain:
        assert takes_kinds_1_to_3_only(chain.code_at(before.anchor_registry))
        registry = AnchorRegistryClient.from_deployment(chain, before)
        with pytest.raises(InvalidKind):
            registry.anchor(b32("a"), b32("a root"), 3, BatchKind.ALERT_LOG, b32("m"))
        registry.anchor(b32("c"), b32("c root"), 3, BatchKind.CREDIT_DATA, b32("m"))
        assert not takes_kinds_1_to_3_only(chain.code_at(before.consent_registry))
    code = bytes.fromhex(kinds_1_to_3().deployed_bytecode.removeprefix("0x"))
    assert hashlib.sha256(code).hexdigest() == KINDS_1_TO_3_CODE_SHA256


def test_a_current_deployment_needs_no_alert_log_registry(data_dir: Path) -> None:
    with Chain.embedded(data_dir, holder="pytest") as chain:
        deployment, _ = deploy(chain, data_dir)
        assert add_alert_log_registry(chain, data_dir) == (deployment, False)
    assert Deployment.load(data_dir / "deployment.json") == deployment
    assert deployment.alert_log_registry == deployment.anchor_registry
    assert deployment.anchor_kinds is None


def _kind(data_dir: Path, kind: BatchKind) -> list[Batch]:
    store = Store.open(data_dir)
    try:
        with store.session() as s:
            return list(s.scalars(select(Batch).where(Batch.kind == int(kind))))
    finally:
        store.close()


def test_moving_keeps_kinds_1_to_3_in_place_and_anchors_the_alert_log_beside(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = deploy_before_kind_4(data_dir)
    env = {"LEDGER_DATA_DIR": str(data_dir)}
    write_csv(january(), tmp_path / "jan.csv")
    write_csv(february(), tmp_path / "feb.csv")
    refused = run("submit", str(tmp_path / "jan.csv"), env=env)
    assert "predates kind 4" in one_error_line(refused)
    assert "--alert-log-registry" in refused.stderr

    moved = run("deploy", "--alert-log-registry", "--json", env=env)
    assert moved.returncode == 0, moved.stderr
    shown = orjson.loads(moved.stdout)
    assert shown["created"] is True
    assert shown["registries"]["AnchorRegistry"] == before.registries["AnchorRegistry"].__dict__
    again = run("deploy", "--alert-log-registry", "--json", env=env)
    assert orjson.loads(again.stdout)["created"] is False
    deployment = Deployment.load(data_dir / "deployment.json")
    alert_log = deployment.registries[ALERT_LOG_REGISTRY].address
    assert deployment.alert_log_registry == alert_log != deployment.anchor_registry

    assert run("submit", str(tmp_path / "jan.csv"), env=env).returncode == 0
    killed = run("alerts", "seal", "--force", env={**env, "LEDGER_FAILPOINTS": "alerts-sealed"})
    assert killed.returncode == -signal.SIGKILL  # a kind-4 batch is left pending
    # A submission's outbox sends its kinds to the registry of before, and leaves kind 4.
    assert run("submit", str(tmp_path / "feb.csv"), env=env).returncode == 0
    assert [b.status for b in _kind(data_dir, BatchKind.ALERT_LOG)] == ["pending"]
    sealed = run("alerts", "seal", "--force", "--json", env=env)
    assert sealed.returncode == 0, sealed.stderr
    assert len(orjson.loads(sealed.stdout)["sealed"]) == 1

    log_batches = _kind(data_dir, BatchKind.ALERT_LOG)
    assert [(b.status, b.registry_address) for b in log_batches] == [("anchored", alert_log)] * 2
    credit = _kind(data_dir, BatchKind.CREDIT_DATA)
    assert {b.registry_address for b in credit} == {deployment.anchor_registry}
    store = Store.open(data_dir)
    try:
        with store.session() as s:
            (first, *_) = alerts_after(s, BANK_A, 0, 10)
        bundle = bundle_for(store, first.id)
        with Chain.embedded(data_dir, holder="pytest audit", read_only=True) as chain:
            assert AnchorRegistryClient(chain, alert_log).anchor_count() == 2
            assert AnchorRegistryClient.from_deployment(chain, deployment).anchor_count() == len(
                credit
            )
            verify_bundle(bundle)
            assert check_anchor(chain, bundle).kind == int(BatchKind.ALERT_LOG)
            report, _ = audit(chain, AuditTarget.of(deployment), store=store)
            # A node that hides the alert log's events is caught by that registry's head.
            replay_logs = Replayer._logs

            def hiding(self: Replayer, addresses: tuple[str, ...], start: int, end: int) -> Any:
                return [
                    log for log in replay_logs(self, addresses, start, end)
                    if str(log["address"]).lower() != alert_log
                ]  # fmt: skip

            monkeypatch.setattr(Replayer, "_logs", hiding)
            hidden, _ = audit(chain, AuditTarget.of(deployment))
    finally:
        store.close()
    assert report.clean, report.to_json()["findings"]
    assert report.chain["alert_log_count"] == 2 and report.checked["alert_log_entries"] > 0
    assert {f.code for f in hidden.failing} == {
        "CHAIN_LOG_HEAD_MISMATCH", "CHAIN_ANCHOR_COUNT_MISMATCH",
    }  # fmt: skip
    (head,) = [f for f in hidden.failing if f.code == "CHAIN_LOG_HEAD_MISMATCH"]
    assert head.expected == report.chain["alert_log_head"]

    # An auditor without the manifest names the registries; without the alert log's,
    # the log's batches are not on the chain it replayed.
    named = (
        "audit", "--json", "--registry", deployment.anchor_registry,
        "--consent-registry", deployment.consent_registry,
        "--from-block", str(deployment.deployment_block),
    )  # fmt: skip
    assert run(*named, "--alert-log-registry", alert_log, env=env).returncode == 0
    blind = run(*named, env=env)
    assert blind.returncode == 1
    findings = orjson.loads(blind.stdout)["findings"]
    assert {f["code"] for f in findings} >= {"STORE_BATCH_NOT_ON_CHAIN"}


def test_a_manifest_naming_an_alert_log_registry_without_its_code_is_refused(
    data_dir: Path,
) -> None:
    before = deploy_before_kind_4(data_dir)
    wrong = RegistryInfo(before.consent_registry, "0x" + "00" * 32, 1)
    broken = replace(before, registries={**before.registries, ALERT_LOG_REGISTRY: wrong})
    with Chain.embedded(data_dir, holder="pytest") as chain:
        with pytest.raises(DeploymentError, match="not this version's AnchorRegistry"):
            check_deployment(chain, broken)
        with pytest.raises(DeploymentError, match="predates kind 4"):
            check_deployment(chain, before)
