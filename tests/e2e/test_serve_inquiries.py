"""``ledger serve`` seals the inquiry log on its timer and anchors it; proofs follow."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.proofs import ProofBundle, verify_bundle
from tests.conftest import wait_until
from tests.consent.conftest import grant_json
from tests.e2e.test_serve import HTTP, _env, _key, _ledger, serving
from tests.e2e.test_serve import HTTP_TIMEOUT as TIMEOUT
from tests.records.sample import ID_NUMBER


def test_checks_are_sealed_on_the_timer_and_provable(
    tmp_path: Path, deploy_copy: Callable[[Path], Path]
) -> None:
    data_dir = deploy_copy(tmp_path / "data")  # what `ledger deploy` leaves
    operator = _key(data_dir, "ops", "operator")
    partner = _key(data_dir, "bank-a", "partner", "BANK-A")
    auditor = _key(data_dir, "reg", "auditor")
    env = {**_env(data_dir), "LEDGER_INQUIRY_SEAL_SECONDS": "1"}
    with serving(env, tmp_path / "serve.log") as url:
        now = datetime.now(UTC).replace(microsecond=0)
        grant = grant_json(
            valid_from=(now - timedelta(days=1)).isoformat(),
            valid_until=(now + timedelta(days=1)).isoformat(),
        )
        granted = HTTP.post(url + "/v1/consents", json=grant, headers=operator, timeout=TIMEOUT)
        assert granted.status_code == 201, granted.text
        body = {
            "subject": {"id_type": "10", "id_number": ID_NUMBER},
            "purpose": "LOAN_APPROVAL",
        }
        checked = HTTP.post(url + "/v1/consents/check", json=body, headers=partner, timeout=TIMEOUT)
        answer = checked.json()
        assert answer["granted"], answer

        def anchored_batch() -> dict[str, Any] | None:
            page = HTTP.get(url + "/v1/inquiries", headers=auditor, timeout=TIMEOUT).json()
            (entry,) = page["inquiries"]
            if entry["batch_id"] is None:
                return None
            where = f"{url}/v1/batches/{entry['batch_id']}"
            batch: dict[str, Any] = HTTP.get(where, headers=auditor, timeout=TIMEOUT).json()
            return batch if batch["status"] == "anchored" else None

        batch = wait_until(anchored_batch, interval=0.3)  # the sealer runs every half interval
        assert batch["kind"] == 2 and batch["tree_size"] == 1
    # offline: the inquiry's bundle (from the store, server stopped) proves against the anchor
    done = _ledger(data_dir, "bundle", answer["inquiry_id"], "-o", str(tmp_path / "q.json"))
    assert done.returncode == 0, done.stderr
    bundle = ProofBundle.from_json(json.loads((tmp_path / "q.json").read_text()))
    verify_bundle(bundle)
    assert bundle.record is not None and bundle.record["result"] == "granted"
    assert ID_NUMBER not in (tmp_path / "q.json").read_text()
