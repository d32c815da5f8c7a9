"""The compatibility gate: the app's OpenAPI document against the last release's.

The gate itself is the first test. The others change copies of real documents (the
app's, the published one) the way a careless commit would, and show the gate
refusing what breaks a client and letting additive changes through.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from api.app import create_app
from api.openapi import declarations, published
from api.openapi.compat import (
    MAX_REF_HOPS,
    CompatError,
    Declaration,
    breaking_changes,
    undeclared,
)
from ledger.config import Settings

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def app_doc(tmp_path_factory: pytest.TempPathFactory) -> Doc:
    """The document the app serves (it needs no chain nor store to be built)."""
    data_dir = tmp_path_factory.mktemp("compat") / "data"
    return create_app(Settings(data_dir=data_dir, rpc_url=None)).openapi()


def _gate(new: Doc, declared: list[Declaration] | None = None) -> list[str]:
    old = published()
    return undeclared(breaking_changes(old, new), declared or declarations(), new)


def _changed(doc: Doc, edit: Callable[[Doc], object]) -> Doc:
    new = copy.deepcopy(doc)
    edit(new)
    return new


def _schemas(doc: Doc) -> dict[str, Any]:
    schemas: dict[str, Any] = doc["components"]["schemas"]
    return schemas


def test_the_app_keeps_every_promise_of_the_last_release(app_doc: Doc) -> None:
    assert _gate(app_doc) == []


def test_removing_a_response_field_fails_the_gate(app_doc: Doc) -> None:
    new = _changed(app_doc, lambda d: _schemas(d)["VerifyItem"]["properties"].pop("batch_id"))
    assert _gate(new) == [
        "undeclared breaking change: response-field-removed POST /v1/verify "
        "200 application/json $.results[].batch_id"
    ]


def test_adding_a_required_request_field_fails_the_gate(app_doc: Doc) -> None:
    def require_reason(doc: Doc) -> None:
        body = _schemas(doc)["CheckBody"]
        body["properties"]["reason"] = {"type": "string", "maxLength": 64}
        body["required"].append("reason")

    assert _gate(_changed(app_doc, require_reason)) == [
        "undeclared breaking change: request-field-required POST /v1/consents/check "
        "application/json $.reason"
    ]


def test_additive_changes_pass_the_gate(app_doc: Doc) -> None:
    """New optional request fields, new response fields, a new path, a new optional
    parameter, a wider request type or enum, a new problem type: nothing breaks."""

    def grow(doc: Doc) -> None:
        schemas = _schemas(doc)
        schemas["CheckBody"]["properties"]["note"] = {"type": "string"}
        schemas["VerifyItem"]["properties"]["schema_version"] = {"type": "integer"}
        schemas["VerifyItem"]["required"].append("schema_version")
        doc["paths"]["/v1/records/{record_id}"] = copy.deepcopy(doc["paths"]["/v1/inquiries"])
        doc["paths"]["/v1/inquiries"]["get"]["parameters"].append(
            {"in": "query", "name": "since", "required": False, "schema": {"type": "string"}}
        )
        hashes = schemas["VerifyRequest"]["properties"]["leaf_hashes"]
        hashes["maxItems"] *= 2
        purpose = schemas["CheckBody"]["properties"]["purpose"]
        purpose.pop("enum", None)
        doc["info"]["x-problem-types"].append({"type": "urn:credit-anchor:problem:new"})

    assert _gate(_changed(app_doc, grow)) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["paths"].pop("/v1/inquiries"),
            "path-removed GET /v1/inquiries",
        ),
        (
            lambda d: d["paths"]["/v1/consents/{consent_id}"].pop("get"),
            "operation-removed GET /v1/consents/{consent_id}",
        ),
        (
            lambda d: d["paths"]["/v1/proofs/{leaf_hash}"]["get"]["responses"].pop("410"),
            "response-removed GET /v1/proofs/{leaf_hash} 410",
        ),
        (
            lambda d: _schemas(d)["VerifyItem"]["properties"]["status"]["enum"].append("lost"),
            "response-enum-widened POST /v1/verify 200 application/json $.results[].status",
        ),
        (
            lambda d: _schemas(d)["VerifyItem"]["required"].remove("leaf_hash"),
            "response-field-optional POST /v1/verify 200 application/json $.results[].leaf_hash",
        ),
        (
            lambda d: _schemas(d)["VerifyRequest"]["properties"]["leaf_hashes"]["items"].update(
                type="integer"
            ),
            "request-type-narrowed POST /v1/verify application/json $.leaf_hashes[]",
        ),
        (
            lambda d: _schemas(d)["VerifyRequest"]["properties"]["leaf_hashes"].update(
                maxItems=100
            ),
            "request-bound-narrowed POST /v1/verify application/json $.leaf_hashes maxItems",
        ),
        (
            lambda d: d["paths"]["/v1/inquiries"]["get"]["parameters"][0].update(required=True),
            "request-parameter-required GET /v1/inquiries query:after",
        ),
        (
            lambda d: d["paths"]["/healthz"]["get"].update(security=[{"HTTPBearer": []}]),
            "request-security-changed GET /healthz",
        ),
        (
            lambda d: d["info"]["x-problem-types"].pop(0),
            "problem-type-removed info urn:credit-anchor:problem:access-control-bad-confirmation",
        ),
    ],
)
def test_each_kind_of_break_is_found(
    app_doc: Doc, edit: Callable[[Doc], object], expected: str
) -> None:
    """Compared with the app's own document, so that what is found is the one edit."""
    found = [c.key for c in breaking_changes(app_doc, _changed(app_doc, edit))]
    assert found == [expected]


def test_a_narrowed_request_enum_fails(app_doc: Doc) -> None:
    def narrow(doc: Doc) -> None:
        _schemas(doc)["CheckBody"]["properties"]["purpose"]["enum"].remove("JOINT_LENDING_RISK")

    assert _gate(_changed(app_doc, narrow)) == [
        "undeclared breaking change: request-enum-narrowed POST /v1/consents/check "
        "application/json $.purpose"
    ]


def test_a_webhook_body_is_what_the_server_sends(app_doc: Doc) -> None:
    """Receivers read webhook bodies: a field gone breaks them, a new required one not."""
    name, item = next(iter(app_doc["webhooks"].items()))
    schema = item["post"]["requestBody"]["content"]["application/json"]["schema"]
    model = schema["$ref"].rsplit("/", 1)[1]

    def drop_type(doc: Doc) -> None:
        _schemas(doc)[model]["properties"].pop("type")

    def add_required(doc: Doc) -> None:
        _schemas(doc)[model]["properties"]["region"] = {"type": "string"}
        _schemas(doc)[model]["required"].append("region")

    dropped = breaking_changes(app_doc, _changed(app_doc, drop_type))
    assert f"response-field-removed webhook {name} application/json $.type" in [
        c.key for c in dropped
    ]
    assert {(c.kind, c.detail) for c in dropped} == {
        ("response-field-removed", "application/json $.type")
    }
    assert breaking_changes(app_doc, _changed(app_doc, add_required)) == []


def test_a_declared_break_passes_only_under_a_new_served_major_prefix(app_doc: Doc) -> None:
    key = "response-field-removed POST /v1/verify 200 application/json $.results[].batch_id"
    new = _changed(app_doc, lambda d: _schemas(d)["VerifyItem"]["properties"].pop("batch_id"))
    assert undeclared(breaking_changes(app_doc, new), [Declaration(key, "/v2")], new) == [
        f"declared change {key} needs a served major prefix beyond its own, not '/v2'"
    ]
    new["paths"]["/v2/verify"] = new["paths"]["/v1/verify"]
    changes = breaking_changes(app_doc, new)
    assert undeclared(changes, [Declaration(key, "/v2")], new) == []
    assert undeclared(changes, [Declaration(key, "/v1")], new) != []
    stale = Declaration("path-removed GET /v1/nothing", "/v2")
    assert undeclared(changes, [Declaration(key, "/v2"), stale], new) == [
        "declared change matches nothing: path-removed GET /v1/nothing"
    ]


def test_reference_loops_and_foreign_references_are_refused(app_doc: Doc) -> None:
    def loop(doc: Doc) -> None:
        _schemas(doc)["Loop"] = {"$ref": "#/components/schemas/Loop"}
        _schemas(doc)["VerifyItem"]["properties"]["status"] = {"$ref": "#/components/schemas/Loop"}

    with pytest.raises(CompatError, match=f"longer than {MAX_REF_HOPS}"):
        breaking_changes(app_doc, _changed(app_doc, loop))

    def remote(doc: Doc) -> None:
        ref = {"$ref": "https://example.invalid/schema.json"}
        _schemas(doc)["VerifyItem"]["properties"]["status"] = ref

    with pytest.raises(CompatError, match="only local"):
        breaking_changes(app_doc, _changed(app_doc, remote))


def test_recursive_schemas_are_compared_once_per_pair(app_doc: Doc) -> None:
    """JcsValue nests itself: the walk ends, and a change deep inside is still found."""
    jcs = _schemas(app_doc)["JcsValue"]
    assert "#/components/schemas/JcsValue" in str(jcs)

    def narrow(doc: Doc) -> None:
        _schemas(doc)["JcsValue"]["anyOf"] = [
            b for b in _schemas(doc)["JcsValue"]["anyOf"] if b.get("type") != "boolean"
        ]

    found = {c.kind for c in breaking_changes(app_doc, _changed(app_doc, narrow))}
    assert "request-type-narrowed" in found
