"""No unverified "anchored": tampered answers raise typed errors; long lists are chunked."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest

from ledger.client import MAX_ITEMS, CreditAnchorClient, SubmissionReport
from ledger.errors import IntegrityError
from ledger.proofs import (
    CanonicalFormError,
    RecordMismatchError,
    RootMismatchError,
    record_leaf_hash,
)
from tests.client.conftest import BASE_URL, Server


def hx(value: bytes) -> str:
    return "0x" + value.hex()


class Wrapped(httpx.BaseTransport):
    """The app's own transport, with a hook on each request and each response body."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        on_request: Callable[[httpx.Request], httpx.Request] = lambda r: r,
        on_body: Callable[[bytes], bytes] = lambda b: b,
    ) -> None:
        self.inner = inner
        self.on_request = on_request
        self.on_body = on_body
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request = self.on_request(request)
        self.requests.append(request)
        response = self.inner.handle_request(request)
        body = response.read()
        return httpx.Response(
            response.status_code, headers=response.headers, content=self.on_body(body)
        )


def wrapped_client(server: Server, who: str, transport: Wrapped, **kw: bool) -> CreditAnchorClient:
    http = httpx.Client(transport=transport, base_url=BASE_URL)
    return CreditAnchorClient(BASE_URL, server.keys[who], http=http, **kw)


def flip_after(marker: bytes) -> Callable[[bytes], bytes]:
    """Change the last hex digit of the first value after ``marker`` (one byte)."""

    def tamper(body: bytes) -> bytes:
        match = re.search(re.escape(marker) + rb'"0x[0-9a-f]{63}([0-9a-f])"', body)
        assert match is not None, "nothing to tamper with"
        at = match.start(1)
        digit = b"0" if body[at : at + 1] != b"0" else b"1"
        return body[:at] + digit + body[at + 1 :]

    return tamper


def the_app(server: Server) -> httpx.BaseTransport:
    inner: httpx.BaseTransport = server.http._transport  # the TestClient's ASGI transport
    return inner


def test_tampered_proof_root_is_rejected(server: Server, submitted: SubmissionReport) -> None:
    leaf = hx(record_leaf_hash(server.stored_records()[0]))
    transport = Wrapped(the_app(server), on_body=flip_after(b'"root":'))
    with pytest.raises(RootMismatchError):
        wrapped_client(server, "auditor", transport).proof(leaf)
    unchecked = wrapped_client(server, "auditor", transport, verify_offline=False).proof(leaf)
    assert hx(unchecked.leaf_hash) == leaf  # the switch works: returned as received


def test_tampered_path_in_verify_is_rejected(server: Server, submitted: SubmissionReport) -> None:
    leaves = [hx(record_leaf_hash(r)) for r in server.stored_records()]
    transport = Wrapped(the_app(server), on_body=flip_after(b'"audit_path":['))
    with pytest.raises(RootMismatchError):
        wrapped_client(server, "partner", transport).verify_leaf_hashes(leaves)


def test_tampered_record_in_bundle_is_rejected(server: Server, submitted: SubmissionReport) -> None:
    records = server.stored_records()[:2]
    transport = Wrapped(the_app(server), on_body=flip_after(b'"salt":'))
    with pytest.raises(RecordMismatchError):
        wrapped_client(server, "partner", transport).verify_records(records)


def test_bundle_for_another_record_is_rejected(server: Server, submitted: SubmissionReport) -> None:
    """The server answers (validly) for a record other than the one sent."""
    first, second = server.stored_records()[:2]

    def swap(request: httpx.Request) -> httpx.Request:
        body = json.dumps({"records": [second]}).encode()
        headers = {**request.headers, "content-length": str(len(body))}
        return httpx.Request(request.method, request.url, headers=headers, content=body)

    transport = Wrapped(the_app(server), on_request=swap)
    with pytest.raises(IntegrityError):
        wrapped_client(server, "partner", transport).verify_records([first])


def test_leaf_hashes_beyond_the_limit_are_chunked_in_order(
    server: Server, submitted: SubmissionReport
) -> None:
    known = [hx(record_leaf_hash(r)) for r in server.stored_records()[:2]]
    total = 2 * MAX_ITEMS + 3
    hashes = [f"0x{i:064x}" for i in range(total)]
    hashes[5], hashes[MAX_ITEMS + 1] = known  # one in the first request, one in the second
    transport = Wrapped(the_app(server))
    results = wrapped_client(server, "auditor", transport).verify_leaf_hashes(hashes)
    assert [len(json.loads(r.content)["leaf_hashes"]) for r in transport.requests] == [
        MAX_ITEMS,
        MAX_ITEMS,
        3,
    ]
    assert [r.leaf_hash for r in results] == hashes
    anchored = [i for i, r in enumerate(results) if r.status == "anchored"]
    assert anchored == [5, MAX_ITEMS + 1]
    assert all(r.status == "unknown" for i, r in enumerate(results) if i not in anchored)


def test_records_are_chunked_by_body_size(server: Server, submitted: SubmissionReport) -> None:
    records = server.stored_records()
    transport = Wrapped(the_app(server))
    client = wrapped_client(server, "partner", transport)
    client.max_body_bytes = len(json.dumps(records[0])) * 2
    results = client.verify_records(records)
    assert len(transport.requests) > 1
    assert [r.leaf_hash for r in results] == [hx(record_leaf_hash(r)) for r in records]
    assert all(r.status == "anchored" for r in results)


def test_import_needs_neither_chain_nor_api() -> None:
    code = (
        "import sys, ledger.client; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('api', 'fastapi', 'starlette', 'web3', 'eth_tester') or m.startswith('ledger.chain')); "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_record_without_canonical_form_fails_before_any_request(server: Server) -> None:
    transport = Wrapped(the_app(server))
    with pytest.raises(CanonicalFormError):
        wrapped_client(server, "partner", transport).verify_records([{"amount": 1.5}])
    assert transport.requests == []
