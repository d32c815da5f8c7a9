"""``GET /metrics``: Prometheus text, bounded labels, no personal data."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from ledger.store import Batch, Store
from tests.api.conftest import Api


def _value(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name + ("{" + labels + "}" if labels else "")) + r" ([0-9.e+]+)"
    found = re.search(pattern, text)
    assert found, f"{name}{{{labels}}} not in metrics"
    return float(found.group(1))


def test_metrics_count_requests_outcomes_and_batches(api: Api) -> None:
    before = api.client.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    hashes = ["0x" + "ab" * 32, "0x" + "cd" * 32]
    answer = api.client.post(
        "/v1/verify", json={"leaf_hashes": hashes}, headers=api.headers("partner")
    )
    assert answer.status_code == 200
    text = api.client.get("/metrics").text
    assert _value(text, "creditanchor_verify_outcomes_total", 'outcome="unknown"') >= 2
    assert (
        _value(
            text,
            "creditanchor_http_requests_total",
            'method="POST",route="/v1/verify",status="200"',
        )
        >= 1
    )
    store = Store.for_settings(api.settings)
    with store.session() as s:
        in_store = s.scalar(select(func.count()).where(Batch.status == "anchored"))
    store.close()
    assert _value(text, "creditanchor_batches", 'status="anchored"') == in_store
    assert "ab" * 32 not in text  # path and body values never become labels
