"""Access logs: one JSON line per request, route templates only, no values."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import Api

SECRET_LOOKING = "0x" + "ab" * 32


def test_access_log_names_route_template_and_key(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="api.access"):
        api.client.get(f"/v1/proofs/{SECRET_LOOKING}?q=13800138000", headers=api.headers("partner"))
        api.client.post("/v1/verify", content=b"[" * 100, headers=api.headers("partner"))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "api.access"]
    assert lines[0] == {
        "method": "GET",
        "route": "/v1/proofs/{leaf_hash}",
        "status": 404,
        "duration_ms": lines[0]["duration_ms"],
        "key": "bank-a",
        "role": "partner",
    }
    # The key is checked before the body is read, so a refused body names its key.
    assert lines[1]["status"] == 400 and lines[1]["key"] == "bank-a"
    assert SECRET_LOOKING not in caplog.text and "13800138000" not in caplog.text
