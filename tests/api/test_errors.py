"""Problem documents: shape, content type, size and depth limits, no echoed values."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api.errors import problem_for, status_for
from api.state import ChainGate
from ledger.chain.errors import ChainError, ChainUnavailableError
from ledger.errors import (
    ConfigurationError,
    ConflictError,
    InputError,
    IntegrityError,
    LedgerError,
    NotFoundError,
    UnavailableError,
)
from tests.api.conftest import MAX_BODY, Api

#: A syntactically valid Chinese ID number and a mobile: never to be echoed back.
CANARY_ID = "11010519491231002X"
CANARY_PHONE = "13800138000"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(answer: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = answer.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:credit-anchor:problem:{code}"
    return body


def test_unknown_route_is_a_problem(api: Api) -> None:
    assert_problem(api.client.get("/v1/nothing"), 404, "not-found")


def test_unknown_batch_is_404(api: Api) -> None:
    answer = api.client.get("/v1/batches/0x" + "12" * 32, headers=api.headers("auditor"))
    assert_problem(answer, 404, "not-found")


@pytest.mark.parametrize(
    "body",
    [
        {"leaf_hashes": [CANARY_ID]},
        {"leaf_hashes": [CANARY_PHONE], "records": [{"subject_id_number": CANARY_ID}]},
        {"records": CANARY_ID},
        {"records": [{"a": 1}], "subject_mobile": CANARY_PHONE},
        {"leaf_hashes": [{"subject_id_number": CANARY_ID}]},
        {"leaf_hashes": ["0x" + "00" * 32], CANARY_ID: 1, CANARY_PHONE: 2, "张三": 3},
    ],
)
def test_422_names_fields_without_values(api: Api, body: object) -> None:
    answer = api.client.post("/v1/verify", json=body, headers=api.headers("partner"))
    problem = assert_problem(answer, 422, "validation")
    assert CANARY_ID not in answer.text and CANARY_PHONE not in answer.text
    assert "张三" not in answer.json()["detail"] + str(answer.json()["errors"])
    errors = problem["errors"]
    assert isinstance(errors, list) and errors
    assert all(set(e) == {"path", "reason", "type"} for e in errors)


def test_422_for_a_record_without_canonical_form(api: Api) -> None:
    body = {"records": [{"record_id": "r", "amount": 1.5, "subject_id_number": CANARY_ID}]}
    answer = api.client.post("/v1/verify", json=body, headers=api.headers("auditor"))
    # The schema says record values are JCS-representable (no floats); the check is
    # the library's canonical form, which names the record and the path, never values.
    problem = assert_problem(answer, 422, "invalid-input")
    assert "records[0] has no canonical form: $.amount: is a float" in str(problem["detail"])
    assert CANARY_ID not in answer.text


def test_a_value_sent_as_a_key_is_not_echoed(api: Api) -> None:
    body = {"records": [{"record_id": "r", CANARY_ID: 1.5}]}
    answer = api.client.post("/v1/verify", json=body, headers=api.headers("auditor"))
    problem = assert_problem(answer, 422, "invalid-input")
    assert "records[0] has no canonical form: $.*: is a float" in str(problem["detail"])
    assert CANARY_ID not in answer.text


def test_bad_path_parameter_is_422(api: Api) -> None:
    answer = api.client.get(f"/v1/proofs/{CANARY_PHONE}", headers=api.headers("auditor"))
    assert_problem(answer, 422, "validation")
    assert CANARY_PHONE not in answer.text


def test_invalid_json_is_422_without_echo(api: Api) -> None:
    answer = api.client.post(
        "/v1/verify",
        content=f'{{"records": [{{"id": "{CANARY_ID}"'.encode(),
        headers={**api.headers("auditor"), "Content-Type": "application/json"},
    )
    assert_problem(answer, 422, "validation")
    assert CANARY_ID not in answer.text


def test_too_large_body_is_413(api: Api) -> None:
    body = b'{"leaf_hashes": ["' + b"0" * MAX_BODY + b'"]}'
    answer = api.client.post(
        "/v1/verify",
        content=body,
        headers={**api.headers("partner"), "Content-Type": "application/json"},
    )
    assert_problem(answer, 413, "too-large")


def test_too_large_body_without_length_is_413(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 4096 + 2):
            yield b" " * 4096

    answer = api.client.post(
        "/v1/verify",
        content=chunks(),
        headers={**api.headers("partner"), "Content-Type": "application/json"},
    )
    assert_problem(answer, 413, "too-large")


def test_deep_nesting_is_refused_before_parsing(api: Api) -> None:
    body = b'{"records": [' + b"[" * 200_000 + b"]" * 200_000 + b"]}"
    answer = api.client.post(
        "/v1/submissions",
        content=body,
        headers={**api.headers("operator"), "Content-Type": "application/json"},
    )
    assert_problem(answer, 400, "too-deep")
    assert api.client.get("/healthz").status_code == 200  # the process survived


def test_brackets_inside_strings_do_not_count(api: Api) -> None:
    body = {"records": [{"record_id": "[" * 500 + "{" * 500}]}
    answer = api.client.post("/v1/verify", json=body, headers=api.headers("auditor"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] == "unknown"


def test_too_many_items_is_rejected(api: Api) -> None:
    body = {"leaf_hashes": ["0x" + "00" * 32] * 10_001}
    answer = api.client.post("/v1/verify", json=body, headers=api.headers("auditor"))
    assert answer.status_code in (413, 422)
    assert answer.headers["content-type"] == "application/problem+json"


def test_chain_down_readyz_is_503_with_retry_after(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(_self: ChainGate) -> int:
        raise ChainUnavailableError("lost the connection to the embedded chain: OSError")

    monkeypatch.setattr(ChainGate, "probe", down)
    answer = api.client.get("/readyz")
    assert_problem(answer, 503, "chain-unavailable")
    assert int(answer.headers["retry-after"]) > 0
    # calls served from the store keep working
    batch_id = api.submitted["batches"][0]["batch_id"]
    assert api.client.get(f"/v1/batches/{batch_id}", headers=api.headers("partner")).is_success


def test_chain_down_submission_is_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(_self: ChainGate) -> object:
        raise ChainUnavailableError("lost the connection to the embedded chain: OSError")

    monkeypatch.setattr(ChainGate, "_connect", down)
    answer = api.client.post(
        "/v1/submissions", json={"records": [{"a": 1}]}, headers=api.headers("operator")
    )
    assert_problem(answer, 503, "chain-unavailable")
    assert "retry-after" in answer.headers


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InputError("x"), 422),
        (NotFoundError("x"), 404),
        (ConflictError("x"), 409),
        (UnavailableError("x"), 503),
        (ChainUnavailableError("x"), 503),
        (ConfigurationError("x"), 503),
        (IntegrityError("x"), 500),
        (ChainError("x"), 502),
        (LedgerError("x"), 500),
    ],
)
def test_each_error_family_has_one_status(error: LedgerError, status: int) -> None:
    assert status_for(error) == status
    answer = problem_for(error, retry_after=7)
    assert answer.status_code == status
    assert (answer.headers.get("retry-after") == "7") is (status == 503)


def test_a_record_that_is_not_unicode_is_refused_as_input(api: Api) -> None:
    for body in (
        b'{"records": [{"record_id": "RPT-\\udcff"}]}',
        b'{"records": [{"record_id": "\\ud800", "x": "\\udc00"}]}',
    ):
        answer = api.client.post(
            "/v1/verify",
            content=body,
            headers={**api.headers("auditor"), "Content-Type": "application/json"},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid-input"
