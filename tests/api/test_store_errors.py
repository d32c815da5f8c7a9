"""A store that does not answer in time: 503 problem+json, and nothing half-lands."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from ledger.chain import Chain, deploy
from ledger.config import Settings
from ledger.store import Batch, Store
from ledger.store.apikeys import create_key
from ledger.store.db import STORE_FILE
from tests.api.conftest import raw_rows
from tests.api.test_errors import assert_problem


def test_a_locked_store_is_503_with_retry_after_and_the_retry_lands(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    with Chain.embedded(data_dir, holder="pytest") as chain:
        deploy(chain, data_dir)
    settings = Settings(data_dir=data_dir, rpc_url=None, db_url=None, store_busy_timeout=0.3)
    store = Store.open(data_dir)
    try:
        operator = {"Authorization": f"Bearer {create_key(store, 'ops', 'operator')[1]}"}
    finally:
        store.close()
    rows = raw_rows(3, seed=5)
    with TestClient(create_app(settings)) as client:
        holder = sqlite3.connect(data_dir / STORE_FILE, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another writer, holding the lock too long
            answer = client.post("/v1/submissions", json={"records": rows}, headers=operator)
            body = assert_problem(answer, 503, "unavailable")
            assert body["detail"] == "the store did not answer; retry later"
            assert int(answer.headers["retry-after"]) > 0
            assert "locked" not in answer.text  # the driver's words stay in the log
        finally:
            holder.close()
        store = Store.open(data_dir)
        try:
            with store.session() as s:
                assert s.scalar(select(func.count()).select_from(Batch)) == 0
        finally:
            store.close()
        again = client.post("/v1/submissions", json={"records": rows}, headers=operator)
        assert again.status_code == 200, again.text
        assert again.json()["accepted"] == len(rows)
