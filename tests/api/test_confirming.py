"""The API over a chain that needs confirmations (anvil, mining on demand).

A submission returns at once with its batch ``confirming``; the batch shows that
status with no anchor, verify says pending and no proof is served, until the
server's anchoring tick sees it deep enough.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.chain import deploy
from ledger.config import Settings
from ledger.store import Store
from ledger.store.apikeys import create_key
from tests.api.conftest import raw_rows
from tests.conftest import AnvilNode, rpc, rpc_chain

pytestmark = pytest.mark.rpc


def test_a_confirming_batch_is_pending_until_the_server_confirms_it(
    anvil: AnvilNode, data_dir: Path
) -> None:
    deploy(rpc_chain(anvil, data_dir), data_dir)
    settings = Settings(data_dir=data_dir, rpc_url=anvil.url, confirmations=1, batch_size=10)
    store = Store.for_settings(settings)
    try:
        rows = raw_rows(4, seed=7)
        operator = create_key(store, "ops", "operator")[1]
        partner = create_key(
            store, "bank", "partner", institution=str(rows[0]["reporter_org_code"])
        )[1]
    finally:
        store.close()
    ops = {"Authorization": f"Bearer {operator}"}
    bank = {"Authorization": f"Bearer {partner}"}
    with TestClient(create_app(settings)) as client:
        answer = client.post("/v1/submissions", json={"records": rows}, headers=ops)
        assert answer.status_code == 200, answer.text
        (batch,) = answer.json()["batches"]
        assert batch["status"] == "confirming"
        shown = client.get(f"/v1/batches/{batch['batch_id']}", headers=ops).json()
        assert (shown["status"], shown["anchor"]) == ("confirming", None)
        leaf = _a_leaf(settings, batch["batch_id"])
        verified = client.post("/v1/verify", json={"leaf_hashes": [leaf]}, headers=bank)
        assert verified.json()["results"][0]["status"] == "pending"
        assert client.get(f"/v1/proofs/{leaf}", headers=bank).status_code == 409

        rpc(anvil.url, "evm_mine", [])
        client.app.state.ledger.gate.seal_logs()  # the background tick, run now
        shown = client.get(f"/v1/batches/{batch['batch_id']}", headers=ops).json()
        assert shown["status"] == "anchored"
        assert shown["anchor"]["tx_hash"] == batch["tx_hash"]
        verified = client.post("/v1/verify", json={"leaf_hashes": [leaf]}, headers=bank)
        assert verified.json()["results"][0]["status"] == "anchored"


def _a_leaf(settings: Settings, batch_id: str) -> str:
    from ledger.store import leaves

    store = Store.for_settings(settings)
    try:
        with store.session() as s:
            return "0x" + leaves.batch_hashes(s, batch_id)[0].hex()
    finally:
        store.close()
