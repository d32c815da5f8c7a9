"""One deployed data dir and one running app per test module, with a key per role; its
store SQLite or PostgreSQL (``module_db_url``), named by the settings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiSettings
from ledger.config import Settings
from ledger.records.generate import synthetic_rows
from ledger.store import Store
from ledger.store.apikeys import create_key, revoke_key
from tests.conftest import copy_deployment, stored_records

#: Small enough that a 413 test stays cheap, large enough for 10001 leaf hashes.
MAX_BODY = 1024 * 1024
ROWS = 8


@dataclass
class Api:
    client: TestClient
    settings: Settings
    keys: dict[str, str]
    institution: str
    submitted: dict[str, Any] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"} if who in self.keys else {}

    def stored_records(self) -> list[dict[str, Any]]:
        return stored_records(self.settings.data_dir, self.settings.db_url)


def raw_rows(n: int, seed: int) -> list[dict[str, Any]]:
    return list(synthetic_rows(n, seed=seed))


def _keys(settings: Settings, institution: str) -> dict[str, str]:
    store = Store.for_settings(settings)
    try:
        keys = {
            "operator": create_key(store, "ops", "operator")[1],
            "auditor": create_key(store, "regulator", "auditor")[1],
            "partner": create_key(store, "bank-a", "partner", institution=institution)[1],
            "other_partner": create_key(store, "bank-b", "partner", institution="NOBODY")[1],
            "revoked": create_key(store, "gone", "auditor")[1],
        }
        revoke_key(store, "gone")
        keys["bad"] = "ca_" + "A" * 43
        return keys
    finally:
        store.close()


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, module_db_url: str | None, deployed_template: Path
) -> Iterator[Api]:
    data_dir = copy_deployment(deployed_template, tmp_path_factory.mktemp("api") / "data")
    settings = Settings(data_dir=Path(data_dir), rpc_url=None, db_url=module_db_url, batch_size=5)
    rows = raw_rows(ROWS, seed=41)
    institution = str(rows[0]["reporter_org_code"])
    keys = _keys(settings, institution)
    app = create_app(settings, limits=ApiSettings(max_body_bytes=MAX_BODY))
    with TestClient(app) as client:
        result = Api(client, settings, keys, institution)
        answer = client.post(
            "/v1/submissions", json={"records": rows}, headers=result.headers("operator")
        )
        assert answer.status_code == 200, answer.text
        result.submitted = answer.json()
        yield result


@dataclass
class AlertApi:
    """An app whose store holds two months of a co-funded book (tests/_alert_book.py)."""

    client: TestClient
    settings: Settings
    keys: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def alerts(self, who: str, **params: Any) -> list[dict[str, Any]]:
        """Every alert ``who`` may list, page by page."""
        found: list[dict[str, Any]] = []
        after = 0
        while True:
            answer = self.client.get(
                "/v1/alerts", params={"after": after, "limit": 3, **params},
                headers=self.headers(who),
            )  # fmt: skip
            assert answer.status_code == 200, answer.text
            page = answer.json()
            found += page["alerts"]
            after = page["next"]
            if not page["more"]:
                return found


#: Fast streams for tests: a stream ends after STREAM_SECONDS (the TestClient reads a
#: response to its end), idle streams poll and beat quickly.
STREAM_LIMITS = {
    "alert_stream_seconds": 2.0,
    "alert_stream_poll_seconds": 0.05,
    "alert_stream_heartbeat_seconds": 0.3,
}


@pytest.fixture(scope="module")
def alert_api(
    tmp_path_factory: pytest.TempPathFactory, module_db_url: str | None, deployed_template: Path
) -> Iterator[AlertApi]:
    from tests._alert_book import BANK_A, BANK_B, BANK_C, february, january

    data_dir = copy_deployment(deployed_template, tmp_path_factory.mktemp("alerts") / "data")
    settings = Settings(data_dir=Path(data_dir), rpc_url=None, db_url=module_db_url)
    store = Store.for_settings(settings)
    try:
        keys = {
            "operator": create_key(store, "ops", "operator")[1],
            "auditor": create_key(store, "regulator", "auditor")[1],
            "a": create_key(store, "bank-a", "partner", institution=BANK_A)[1],
            "b": create_key(store, "bank-b", "partner", institution=BANK_B)[1],
            "c": create_key(store, "bank-c", "partner", institution=BANK_C)[1],
        }
    finally:
        store.close()
    app = create_app(settings, limits=ApiSettings(**STREAM_LIMITS))
    with TestClient(app) as client:
        result = AlertApi(client, settings, keys)
        for rows in (january(), february()):
            answer = client.post(
                "/v1/submissions", json={"records": rows}, headers=result.headers("operator")
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["accepted"] == len(rows)
        yield result
