"""A node that hides logs is caught: a small JSON-RPC proxy in front of anvil filters eth_getLogs.

The proxy forwards every request to the real node and, for ``eth_getLogs`` only,
drops the logs its ``drop`` predicate picks. Views (``logHead``, ``anchorCount``,
``consentStatus``) pass untouched, which is what lets the audit prove the replay
incomplete. A pass-through proxy audits clean, so the proxy alone is not a finding.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from eth_utils.crypto import keccak

from ledger.chain.errors import ChainError
from tests.audit.conftest import Populated, codes, populate_on_anvil, run_audit
from tests.conftest import WAIT_SECONDS, AnvilNode

pytestmark = pytest.mark.rpc

ANCHORED = (
    "0x"
    + keccak(
        text="BatchAnchored(bytes32,bytes32,address,uint64,uint8,bytes32,uint64,bytes32)"
    ).hex()
)
REVOKED = "0x" + keccak(text="ConsentRevoked(bytes32,uint64,address)").hex()

Drop = Callable[[dict[str, Any]], bool]


class LogFilteringProxy:
    """An HTTP JSON-RPC proxy that removes some logs from eth_getLogs answers."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.drop: Drop = lambda log: False
        self.failures_left = 0  # answer this many eth_getLogs with HTTP 503 first
        self.max_range: int | None = None  # refuse eth_getLogs over more blocks than this
        self.refused = 0
        self.dropped = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                is_logs = isinstance(request, dict) and request.get("method") == "eth_getLogs"
                if is_logs and proxy.failures_left > 0:
                    proxy.failures_left -= 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = proxy.refusal(request) if is_logs else None
                answer = answer or proxy.forward(body)
                if is_logs and isinstance(answer.get("result"), list):
                    kept = [log for log in answer["result"] if not proxy.drop(log)]
                    proxy.dropped += len(answer["result"]) - len(kept)
                    answer["result"] = kept
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def refusal(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """A JSON-RPC error, as public nodes give, when the block range is over the limit."""
        (params,) = request["params"]
        span = int(params["toBlock"], 16) - int(params["fromBlock"], 16) + 1
        if self.max_range is None or span <= self.max_range:
            return None
        self.refused += 1
        error = {"code": -32005, "message": f"block range too large ({span})"}
        return {"jsonrpc": "2.0", "id": request["id"], "error": error}

    def forward(self, body: bytes) -> dict[str, Any]:
        req = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=WAIT_SECONDS) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
        return answer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def on_anvil(anvil: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> Populated:
    tmp = tmp_path_factory.mktemp("audit-anvil")
    data_dir = tmp / "data"
    data_dir.mkdir(mode=0o700)
    return populate_on_anvil(anvil, data_dir, tmp)


@pytest.fixture
def proxy(anvil: AnvilNode) -> Iterator[LogFilteringProxy]:
    p = LogFilteringProxy(anvil.url)
    yield p
    p.close()


def _anchor_seq(log: dict[str, Any]) -> int:
    """``seq`` of a BatchAnchored log: the fourth word of its data."""
    data = bytes.fromhex(log["data"][2:])
    return int.from_bytes(data[96:128], "big")


def _anchors(on_anvil: Populated, proxy: LogFilteringProxy, **kw: Any) -> Any:
    # Anvil's chain is shared by the session: audit up to now, never beyond what we made.
    return run_audit(on_anvil, rpc_url=proxy.url, **kw)


def test_pass_through_proxy_audits_clean_even_when_the_node_stumbles(
    on_anvil: Populated, proxy: LogFilteringProxy
) -> None:
    proxy.failures_left = 2  # retried, not fatal
    report = _anchors(on_anvil, proxy)
    assert report.clean, report.to_json()["findings"]
    assert proxy.failures_left == 0
    assert report.checked["anchors"] == 4


def test_a_hidden_anchor_in_the_middle_is_caught(
    on_anvil: Populated, proxy: LogFilteringProxy
) -> None:
    proxy.drop = lambda log: log["topics"][0] == ANCHORED and _anchor_seq(log) == 1
    report = _anchors(on_anvil, proxy)
    assert proxy.dropped == 1
    assert codes(report) == {
        "CHAIN_EVENTS_MISSING",
        "CHAIN_ANCHOR_COUNT_MISMATCH",
        "CHAIN_EVENT_HIDDEN",
    }
    (missing,) = [f for f in report.findings if f.code == "CHAIN_EVENTS_MISSING"]
    assert (missing.expected, missing.found) == (1, 2)


def test_a_hidden_last_anchor_is_caught_without_a_store(
    on_anvil: Populated, proxy: LogFilteringProxy
) -> None:
    proxy.drop = lambda log: log["topics"][0] == ANCHORED and _anchor_seq(log) == 3
    report = _anchors(on_anvil, proxy, store=False)
    assert proxy.dropped == 1
    assert codes(report) == {"CHAIN_LOG_HEAD_MISMATCH", "CHAIN_ANCHOR_COUNT_MISMATCH"}


def test_a_hidden_withdrawal_is_caught(on_anvil: Populated, proxy: LogFilteringProxy) -> None:
    proxy.drop = lambda log: log["topics"][0] == REVOKED
    report = _anchors(on_anvil, proxy)
    assert proxy.dropped == 1
    assert codes(report) == {"CHAIN_EVENT_HIDDEN"}
    (hidden,) = report.failing
    assert (hidden.consent_id, hidden.expected) == (on_anvil.revoked_consent, "ConsentRevoked")


def test_ranges_the_node_refuses_are_halved(on_anvil: Populated, proxy: LogFilteringProxy) -> None:
    proxy.max_range = 3
    report = _anchors(on_anvil, proxy)
    assert report.clean, report.to_json()["findings"]
    assert proxy.refused > 0
    assert report.checked["anchors"] == 4


def test_a_node_that_refuses_every_log_query_cannot_be_audited(
    on_anvil: Populated, proxy: LogFilteringProxy
) -> None:
    proxy.max_range = 0
    with pytest.raises(ChainError):
        _anchors(on_anvil, proxy)
