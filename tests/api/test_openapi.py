"""The OpenAPI document: the fixed paths, an example per endpoint, problem+json errors."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

FIXED = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/v1/batches/{batch_id}"),
    ("get", "/v1/proofs/{leaf_hash}"),
    ("post", "/v1/verify"),
    ("post", "/v1/submissions"),
    ("post", "/v1/consents"),
    ("post", "/v1/consents/{consent_id}/revoke"),
    ("post", "/v1/consents/check"),
    ("get", "/v1/inquiries"),
    ("get", "/v1/alerts"),
    ("get", "/v1/alerts/{alert_id}"),
    ("post", "/v1/alerts/{alert_id}/ack"),
}
#: DESIGN.md's alert event types: each has a documented webhook.
EVENT_TYPES = {
    "overdue.entered",
    "overdue.bucket_rolled",
    "overdue.cured",
    "account.status_changed",
    "account.five_class_downgraded",
    "portfolio.threshold_breached",
    "plan.level_changed",
}


def _schema(spec: dict[str, Any], ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    ref = ref_or_schema.get("$ref")
    if ref is None:
        return ref_or_schema
    schema: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def test_openapi_serves_every_fixed_path_with_examples(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    operations = {(m, p): op for p, ops in spec["paths"].items() for m, op in ops.items()}
    assert operations.keys() >= FIXED
    for key in FIXED:
        op = operations[key]
        assert op["description"] or op["summary"], key
        success = next(s for s in op["responses"] if s.startswith("2"))
        ok = op["responses"][success]["content"]["application/json"]["schema"]
        assert _schema(spec, ok).get("examples"), key
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                assert "application/problem+json" in response["content"], (key, status)
        if key[1].startswith("/v1/"):
            assert op["security"] == [{"HTTPBearer": []}]
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_the_alert_stream_is_documented_as_server_sent_events(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    op = spec["paths"]["/v1/alerts/stream"]["get"]
    assert "text/event-stream" in op["responses"]["200"]["content"]
    assert {p["name"] for p in op["parameters"]} >= {"after", "Last-Event-ID"}
    for status in ("401", "403", "422", "503"):
        assert list(op["responses"][status]["content"]) == ["application/problem+json"]


def test_webhooks_document_each_event_type_with_headers_and_an_example(api: Api) -> None:
    from api.alert_models import BODY_MODELS

    spec = api.client.get("/openapi.json").json()
    assert set(spec["webhooks"]) == EVENT_TYPES
    for event_type, item in spec["webhooks"].items():
        op = item["post"]
        headers = {p["name"] for p in op["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        content = op["requestBody"]["content"]["application/json"]
        (example,) = content["examples"].values()
        assert example["value"]["type"] == event_type
        BODY_MODELS[event_type].model_validate(example["value"])
        assert "410" in op["responses"] and "v1a" in op["description"]


def test_every_route_with_a_key_documents_503(api: Api) -> None:
    """A key is looked up in the store, and the store may be down (or locked): every
    route that takes one may answer 503 with Retry-After, and its document says so."""
    spec = api.client.get("/openapi.json").json()
    keyed = [
        (m, p, op)
        for p, ops in spec["paths"].items()
        for m, op in ops.items()
        if op.get("security") == [{"HTTPBearer": []}]
    ]
    assert len(keyed) >= len([k for k in FIXED if k[1].startswith("/v1/")])
    for method, path, op in keyed:
        assert "503" in op["responses"], (method, path)
