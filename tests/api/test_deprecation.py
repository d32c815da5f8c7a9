"""Deprecation that clients see: headers on every answer, marks in OpenAPI, a client warning.

Nothing of the API is deprecated today (api/deprecation.py's ``DEPRECATED`` is
empty), so these tests deprecate routes of a test app: one added here, and the real
``/healthz`` that ``ledger.client`` calls.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.app import create_app
from api.deprecation import DEPRECATED, Deprecation, deprecate
from ledger.client import CreditAnchorClient
from ledger.config import Settings
from ledger.errors import NotFoundError as LedgerNotFound

SINCE = datetime(2026, 12, 1, tzinfo=UTC)
SUNSET = datetime(2027, 6, 30, 23, 59, 59, tzinfo=UTC)
DOCS = "https://docs.example/credit-anchor/v2-migration"


class Legacy(BaseModel):
    name: str
    old_name: str | None = None


def _app(tmp_path: Path) -> FastAPI:
    app = create_app(Settings(data_dir=tmp_path / "data", rpc_url=None))

    @app.get("/v1/legacy/{item}", response_model=Legacy)
    def legacy(item: str) -> Legacy:
        if item == "missing":
            raise LedgerNotFound("no such legacy item")
        return Legacy(name=item, old_name=item)

    @app.get("/v1/current", response_model=Legacy)
    def current() -> Legacy:
        return Legacy(name="x")

    return app


def test_nothing_is_deprecated_today_and_the_app_serves_no_deprecation(tmp_path: Path) -> None:
    assert DEPRECATED == {}
    doc = create_app(Settings(data_dir=tmp_path / "data", rpc_url=None)).openapi()
    marked = [
        (m, p) for p, ops in doc["paths"].items() for m, op in ops.items() if op.get("deprecated")
    ]
    assert marked == []


def test_a_deprecated_operation_answers_with_the_headers_errors_included(tmp_path: Path) -> None:
    app = _app(tmp_path)
    deprecate(app, {("GET", "/v1/legacy/{item}"): Deprecation(SINCE, SUNSET, link=DOCS)})
    client = TestClient(app)
    for item, status in (("a", 200), ("missing", 404)):
        answer = client.get(f"/v1/legacy/{item}")
        assert answer.status_code == status
        assert answer.headers["Deprecation"] == f"@{int(SINCE.timestamp())}" == "@1796083200"
        assert parsedate_to_datetime(answer.headers["Sunset"]) == SUNSET
        assert answer.headers["Sunset"] == "Wed, 30 Jun 2027 23:59:59 GMT"
        assert answer.headers["Link"] == f'<{DOCS}>; rel="deprecation"'
    answer = client.get("/v1/current")
    assert "Deprecation" not in answer.headers and "Sunset" not in answer.headers
    answer = client.post("/v1/legacy/a")  # another method of the path is not deprecated
    assert answer.status_code >= 400 and "Deprecation" not in answer.headers

    op = app.openapi()["paths"]["/v1/legacy/{item}"]["get"]
    assert op["deprecated"] is True
    assert "deprecated" not in app.openapi()["paths"]["/v1/current"]["get"]


def test_a_deprecated_field_is_marked_in_openapi_and_its_operation_answers_with_headers(
    tmp_path: Path,
) -> None:
    app = _app(tmp_path)
    entry = Deprecation(SINCE, SUNSET, field="Legacy.old_name")
    deprecate(app, {("GET", "/v1/legacy/{item}"): entry})
    doc = app.openapi()
    assert doc["components"]["schemas"]["Legacy"]["properties"]["old_name"]["deprecated"] is True
    assert "deprecated" not in doc["components"]["schemas"]["Legacy"]["properties"]["name"]
    assert "deprecated" not in doc["paths"]["/v1/legacy/{item}"]["get"]
    answer = TestClient(app).get("/v1/legacy/a")
    assert answer.headers["Deprecation"] == "@1796083200" and "Link" not in answer.headers


def test_declarations_are_checked(tmp_path: Path) -> None:
    app = _app(tmp_path)
    with pytest.raises(ValueError, match="no operation GET /v1/nothing"):
        deprecate(app, {("GET", "/v1/nothing"): Deprecation(SINCE, SUNSET)})
    with pytest.raises(ValueError, match="sunset comes after"):
        Deprecation(SUNSET, SINCE)
    with pytest.raises(ValueError, match="aware"):
        Deprecation(datetime(2026, 1, 1), SUNSET)
    gone = Deprecation(SINCE, SUNSET, field="Legacy.gone")
    with pytest.raises(ValueError, match=r"no field Legacy\.gone"):
        deprecate(app, {("GET", "/v1/current"): gone})
    assert "deprecated" not in app.openapi()["paths"]["/v1/current"]["get"]  # nothing kept


def test_the_client_warns_once_per_deprecated_operation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(tmp_path)
    deprecate(app, {("GET", "/healthz"): Deprecation(SINCE, SUNSET, link=DOCS)})
    http = TestClient(app, base_url="http://anchor.test")
    client = CreditAnchorClient("http://anchor.test", "ca_" + "k" * 43, http=http)
    caplog.set_level(logging.WARNING, logger="ledger.client")
    assert client.health() and client.health() and client.health()
    warnings = [r for r in caplog.records if r.name == "ledger.client"]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    text = warnings[0].getMessage()
    assert text.startswith("GET /healthz is deprecated by http://anchor.test")
    assert "Sunset: Wed, 30 Jun 2027 23:59:59 GMT" in text and DOCS in text
    assert "k" * 43 not in caplog.text

    # Another client (another process's) warns again; an undeprecated server, never.
    CreditAnchorClient("http://anchor.test", "key", http=http).health()
    assert len([r for r in caplog.records if r.name == "ledger.client"]) == 2
    plain = TestClient(_app(tmp_path / "plain"), base_url="http://anchor.test")
    caplog.clear()
    CreditAnchorClient("http://anchor.test", "key", http=plain).health()
    assert [r for r in caplog.records if r.name == "ledger.client"] == []
