"""Problem+json answers and transport failures become typed errors; the key never shows."""

from __future__ import annotations

import socket

import httpx
import pytest

from ledger import errors as ledger_errors
from ledger.client import (
    AuthenticationError,
    ClientError,
    ConflictError,
    CreditAnchorClient,
    NotFoundError,
    PermissionDeniedError,
    RequestInvalidError,
    ServerError,
    ServiceUnavailableError,
    SubmissionReport,
)
from tests.client.conftest import MAX_BODY, Server

UNKNOWN_BATCH = "0x" + "77" * 32


def leaks(key: str, *texts: object) -> bool:
    return any(key in str(t) or key in repr(t) for t in texts)


def test_bad_key_is_401(server: Server, submitted: SubmissionReport) -> None:
    client = server.client("bad")
    with pytest.raises(AuthenticationError) as caught:
        client.batch(submitted.batches[0].batch_id)
    error = caught.value
    assert error.status == 401 and error.problem_type == "urn:credit-anchor:problem:unauthenticated"
    assert error.title and error.detail
    assert not leaks(server.keys["bad"], client, error, error.args, error.diagnostics())


def test_wrong_role_is_403(server: Server) -> None:
    with server.client("operator") as client, pytest.raises(PermissionDeniedError) as caught:
        client.verify_leaf_hashes(["0x" + "42" * 32])
    assert caught.value.status == 403
    assert not leaks(server.keys["operator"], client, caught.value)
    with server.client("partner") as client, pytest.raises(PermissionDeniedError):
        client.submit(server.rows[:1])


def test_unknown_batch_is_404(server: Server) -> None:
    with server.client("partner") as client, pytest.raises(NotFoundError) as caught:
        client.batch(UNKNOWN_BATCH)
    assert isinstance(caught.value, ledger_errors.NotFoundError)
    assert caught.value.status == 404 and UNKNOWN_BATCH in caught.value.message
    with server.client("auditor") as client, pytest.raises(ledger_errors.NotFoundError):
        client.proof("0x" + "42" * 32)


def test_schema_violation_is_422(server: Server) -> None:
    with server.client("partner") as client, pytest.raises(RequestInvalidError) as caught:
        client.batch("not-a-batch-id")
    assert caught.value.status == 422 and isinstance(caught.value, ledger_errors.InputError)
    with server.client("operator") as client, pytest.raises(RequestInvalidError) as caught:
        client.submit([])
    assert caught.value.status == 422


def test_too_large_body_is_413(server: Server) -> None:
    row = {**server.rows[0], "remarks": "x" * MAX_BODY}
    with server.client("operator") as client, pytest.raises(RequestInvalidError) as caught:
        client.submit([row])
    assert caught.value.status == 413
    assert caught.value.problem_type == "urn:credit-anchor:problem:too-large"


def _answer(response: httpx.Response) -> CreditAnchorClient:
    http = httpx.Client(transport=httpx.MockTransport(lambda _request: response))
    return CreditAnchorClient("https://user:pw@bank.example/api?token=x", "ca_secret", http=http)


def test_503_and_409_carry_their_problem() -> None:
    body = {
        "type": "urn:credit-anchor:problem:unavailable",
        "title": "Service unavailable",
        "status": 503,
        "detail": "the chain does not answer",
        "code": "unavailable",
    }
    client = _answer(httpx.Response(503, json=body, headers={"Retry-After": "7"}))
    with pytest.raises(ServiceUnavailableError) as caught:
        client.batch(UNKNOWN_BATCH)
    error = caught.value
    assert isinstance(error, ledger_errors.UnavailableError)
    assert error.retry_after == 7.0 and error.detail == "the chain does not answer"
    assert "pw" not in str(error) and "token" not in str(error)
    assert client.ready() is False
    conflict = _answer(httpx.Response(409, json={**body, "status": 409, "title": "Conflict"}))
    with pytest.raises(ConflictError):
        conflict.proof("0x" + "42" * 32)
    with pytest.raises(ServerError):
        _answer(httpx.Response(500, text="boom")).batch(UNKNOWN_BATCH)


def test_a_key_echoed_by_the_server_is_scrubbed() -> None:
    body = {"title": "Unauthorized", "detail": "bad key ca_secret", "type": "x"}
    client = _answer(httpx.Response(401, json=body))
    with pytest.raises(AuthenticationError) as caught:
        client.batch(UNKNOWN_BATCH)
    assert not leaks("ca_secret", caught.value, caught.value.detail, client)


def test_connection_refused_is_unavailable_and_redacted() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = "ca_" + "K" * 43
    url = f"http://user:hunter2@127.0.0.1:{port}/prefix?q=secret"
    with CreditAnchorClient(url, key, timeout=2.0) as client:
        with pytest.raises(ServiceUnavailableError) as caught:
            client.batch(UNKNOWN_BATCH)
        assert client.health() is False and client.ready() is False
        assert not leaks(key, client, caught.value)
        assert f"http://127.0.0.1:{port}" in repr(client)
    error = caught.value
    assert isinstance(error, ClientError) and error.status is None
    assert str(error).endswith(": ConnectError")  # refused at once, not waited out
    assert f"http://127.0.0.1:{port}/v1/batches/" in str(error)
    for secret in ("hunter2", "user", "prefix", "secret"):
        assert secret not in str(error)
    assert error.__cause__ is None and error.__suppress_context__


def test_timeout_is_unavailable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    http = httpx.Client(transport=httpx.MockTransport(slow))
    client = CreditAnchorClient("http://bank.example", "ca_secret", http=http)
    with pytest.raises(ServiceUnavailableError, match="timed out"):
        client.batch(UNKNOWN_BATCH)


def test_rows_that_are_not_json_fail_locally_without_the_value(server: Server) -> None:
    from datetime import date

    from ledger.errors import InputError

    row = {**server.rows[0], "opened_on": date(2020, 1, 2)}
    with server.client("operator") as client, pytest.raises(InputError) as caught:
        client.submit([row])
    assert "2020" not in str(caught.value)
