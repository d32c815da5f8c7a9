"""One real app (store, embedded chain, submitted rows) for the client tests, with a key per role.

The client drives it through starlette's TestClient (an ``httpx.Client``): no server process.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiSettings
from ledger.client import CreditAnchorClient, SubmissionReport
from ledger.config import Settings
from ledger.records.generate import synthetic_rows
from ledger.store import Store
from ledger.store.apikeys import create_key
from tests.conftest import copy_deployment, stored_records

#: Small, so that a 413 costs little; large enough for 10000 leaf hashes per request.
MAX_BODY = 1024 * 1024
ROWS = 6
BASE_URL = "http://testserver"


@dataclass
class Server:
    http: TestClient
    settings: Settings
    keys: dict[str, str]
    rows: list[dict[str, Any]]
    report: SubmissionReport | None = None

    def client(self, who: str, **kwargs: Any) -> CreditAnchorClient:
        return CreditAnchorClient(BASE_URL, self.keys[who], http=self.http, **kwargs)

    def stored_records(self) -> list[dict[str, Any]]:
        return stored_records(self.settings.data_dir)


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory, deployed_template: Path) -> Iterator[Server]:
    data_dir = copy_deployment(deployed_template, tmp_path_factory.mktemp("client") / "data")
    settings = Settings(data_dir=Path(data_dir), rpc_url=None, db_url=None, batch_size=4)
    rows = list(synthetic_rows(ROWS, seed=7))
    store = Store.open(settings.data_dir)
    try:
        keys = {
            "operator": create_key(store, "ops", "operator")[1],
            "auditor": create_key(store, "regulator", "auditor")[1],
            "partner": create_key(
                store, "bank-a", "partner", institution=str(rows[0]["reporter_org_code"])
            )[1],
        }
    finally:
        store.close()
    keys["bad"] = "ca_" + "Z" * 43
    app = create_app(settings, limits=ApiSettings(max_body_bytes=MAX_BODY))
    with TestClient(app, base_url=BASE_URL) as http:
        yield Server(http, settings, keys, rows)


@pytest.fixture(scope="package")
def submitted(server: Server) -> SubmissionReport:
    """The rows, submitted once through the client (operator key)."""
    if server.report is None:
        with server.client("operator") as client:
            server.report = client.submit(server.rows)
    return server.report
