"""kill -9 of a real ``ledger consent`` process at each failpoint, then a resume: exactly once."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.chain import Chain, Deployment
from ledger.chain.registry import ConsentRegistryClient
from ledger.store import Batch, Consent, Store
from tests.cli._cli import run
from tests.consent.conftest import BANK, grant_json
from tests.records.sample import ID_NUMBER


def _grant_file(tmp_path: Path) -> Path:
    now = datetime.now(UTC).replace(microsecond=0)
    grant = grant_json(
        valid_from=(now - timedelta(days=1)).isoformat(),
        valid_until=(now + timedelta(days=1)).isoformat(),
    )
    path = tmp_path / "consent.json"
    path.write_text(json.dumps(grant))
    return path


def _recorded_events(data_dir: Path) -> int:
    deployment = Deployment.load(data_dir / "deployment.json")
    with Chain.embedded(data_dir, holder="pytest", read_only=True) as chain:
        registry = ConsentRegistryClient.from_deployment(chain, deployment)
        logs = chain.call_logs(
            registry.contract.events.ConsentRecorded(), deployment.deployment_block
        )
    return len(logs)


@pytest.mark.parametrize("point", ["consent-stored", "consent-mined"])
def test_a_grant_killed_midway_is_recorded_exactly_once(
    data_dir: Path, db_url: str, tmp_path: Path, point: str, deploy_copy: Callable[[Path], Path]
) -> None:
    env = {"LEDGER_DATA_DIR": str(deploy_copy(data_dir)), "LEDGER_DB_URL": db_url}
    killed = run(
        "consent", "grant", str(_grant_file(tmp_path)), env={**env, "LEDGER_FAILPOINTS": point}
    )
    assert killed.returncode == -signal.SIGKILL
    store = Store(db_url)
    with store.session() as s:
        (row,) = s.query(Consent).all()
    assert row.status == "pending"  # stored before the transaction; not yet known as mined
    store.close()
    check = run(
        "consent", "check", "--institution", BANK, "--purpose", "LOAN_APPROVAL", "--json",
        env={**env, "LEDGER_SUBJECT_ID": ID_NUMBER},
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    answer = json.loads(check.stdout)
    assert answer["granted"] and answer["consent_id"] == row.consent_id
    assert answer["on_chain"]["tx_hash"] and answer["on_chain"]["block_number"]
    assert _recorded_events(data_dir) == 1


def test_a_sealed_but_unanchored_inquiry_batch_is_anchored_once(
    data_dir: Path, db_url: str, tmp_path: Path, deploy_copy: Callable[[Path], Path]
) -> None:
    env = {
        "LEDGER_DATA_DIR": str(deploy_copy(data_dir)),
        "LEDGER_DB_URL": db_url,
        "LEDGER_INQUIRY_SEAL_SIZE": "1",
    }
    assert run("consent", "grant", str(_grant_file(tmp_path)), env=env).returncode == 0
    args = ("consent", "check", "--institution", BANK, "--purpose", "LOAN_APPROVAL")
    subject = {**env, "LEDGER_SUBJECT_ID": ID_NUMBER}
    killed = run(*args, env={**subject, "LEDGER_FAILPOINTS": "inquiries-sealed"})
    assert killed.returncode == -signal.SIGKILL
    store = Store(db_url)
    with store.session() as s:
        assert [b.status for b in s.query(Batch).all()] == ["pending"]
    store.close()
    assert run(*args, env=subject).returncode == 0  # resumes, then seals the new one
    store = Store(db_url)
    with store.session() as s:
        batches = s.query(Batch).all()
    store.close()
    assert [b.status for b in batches] == ["anchored", "anchored"]
    deployment = Deployment.load(data_dir / "deployment.json")
    with Chain.embedded(data_dir, holder="pytest", read_only=True) as chain:
        from ledger.chain.registry import AnchorRegistryClient

        assert AnchorRegistryClient.from_deployment(chain, deployment).anchor_count() == 2
