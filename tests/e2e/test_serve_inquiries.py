"""``ledger serve`` seals the inquiry log on its timer and anchors it; proofs follow."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from ledger.proofs import ProofBundle, verify_bundle
from tests.consent.conftest import grant_json
from tests.e2e.test_serve import _env, _key, _ledger, serving
from tests.records.sample import ID_NUMBER


def test_checks_are_sealed_on_the_timer_and_provable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert _ledger(data_dir, "deploy").returncode == 0
    operator = _key(data_dir, "ops", "operator")
    partner = _key(data_dir, "bank-a", "partner", "--institution", "BANK-A")
    auditor = _key(data_dir, "reg", "auditor")
    env = {**_env(data_dir), "LEDGER_INQUIRY_SEAL_SECONDS": "1"}
    with serving(env, tmp_path / "serve.log") as url:
        now = datetime.now(UTC).replace(microsecond=0)
        grant = grant_json(
            valid_from=(now - timedelta(days=1)).isoformat(),
            valid_until=(now + timedelta(days=1)).isoformat(),
        )
        assert httpx.post(url + "/v1/consents", json=grant, headers=operator).status_code == 201
        body = {
            "subject": {"id_type": "10", "id_number": ID_NUMBER},
            "purpose": "LOAN_APPROVAL",
        }
        answer = httpx.post(url + "/v1/consents/check", json=body, headers=partner).json()
        assert answer["granted"], answer
        deadline = time.monotonic() + 30
        while True:  # the sealer runs every half interval
            page = httpx.get(url + "/v1/inquiries", headers=auditor).json()
            (entry,) = page["inquiries"]
            batch_id = entry["batch_id"]
            if batch_id is not None:
                batch = httpx.get(f"{url}/v1/batches/{batch_id}", headers=auditor).json()
                if batch["status"] == "anchored":
                    break
            assert time.monotonic() < deadline, "the inquiry was never anchored"
            time.sleep(0.3)
        assert batch["kind"] == 2 and batch["tree_size"] == 1
    # offline: the inquiry's bundle (from the store, server stopped) proves against the anchor
    done = _ledger(data_dir, "bundle", answer["inquiry_id"], "-o", str(tmp_path / "q.json"))
    assert done.returncode == 0, done.stderr
    bundle = ProofBundle.from_json(json.loads((tmp_path / "q.json").read_text()))
    verify_bundle(bundle)
    assert bundle.record is not None and bundle.record["result"] == "granted"
    assert ID_NUMBER not in (tmp_path / "q.json").read_text()
