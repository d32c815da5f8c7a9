"""A tiny JSON-RPC node on loopback that is *not* a development node, for refusal tests.

No real production client (geth, Besu, Quorum) can run here, and anvil always answers
``anvil_setBalance``. This stub answers what opening a chain asks (``web3_clientVersion``,
``eth_chainId``, ``eth_getBalance``), answers every other method "Method not found"
(-32601, as geth and anvil word it) and records every method it was sent, so a test can
show that nothing, and no ``eth_sendRawTransaction`` in particular, reached it.
``honours`` names a set-balance method it does carry out (a Hardhat-like node);
``ignores`` one it answers ``null`` to without changing anything (a node that lies).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAIN_ID = 1  # it claims to be mainnet: the case the refusal exists for


@dataclass
class StubNode:
    url: str = ""
    honours: str | None = None
    ignores: str | None = None
    balance: int = 0
    methods: list[str] = field(default_factory=list)

    def answer(self, method: str, params: list[Any]) -> dict[str, Any]:
        self.methods.append(method)
        fixed = {"web3_clientVersion": "Geth/v1.14.0-stable/stub", "net_version": str(CHAIN_ID)}
        if method in fixed:
            return {"result": fixed[method]}
        if method == "eth_chainId":
            return {"result": hex(CHAIN_ID)}
        if method == "eth_getBalance":
            return {"result": hex(self.balance)}
        if method == self.honours:
            self.balance = int(params[1], 16)
            return {"result": None}
        if method == self.ignores:
            return {"result": None}
        return {"error": {"code": -32601, "message": "Method not found"}}


@contextmanager
def stub_node(port: int = 0, **kwargs: Any) -> Iterator[StubNode]:
    """Serve a :class:`StubNode` on loopback ``port`` (0: a free one) for the ``with`` block."""
    node = StubNode(**kwargs)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer = node.answer(request["method"], request.get("params") or [])
            body = json.dumps({"jsonrpc": "2.0", "id": request.get("id"), **answer}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            """Quiet: the test reads ``node.methods`` instead."""

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    node.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield node
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
