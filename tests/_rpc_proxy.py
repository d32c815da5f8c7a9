"""A second JSON-RPC endpoint in front of a real node, that a test can take down.

Two anvil processes are two chains, not two nodes of one: a fail-over test needs
two URLs that reach the *same* chain. :func:`rpc_proxy` serves one on a free
loopback port and relays every request, byte for byte, to the node behind it, as a
load balancer or a second node of a network would. ``down_after`` names a JSON-RPC
method: once the proxy has relayed that method's answer, it stops listening (new
connections are refused, as from a node that crashed). With ``swallow`` it does not
even relay that last request: it answers an ``eth_sendRawTransaction`` with the
transaction's hash and goes down, as a node that took a transaction and crashed
before passing it on. It records the methods it relayed, so a test can show which
endpoint served what. Setting ``drop_next`` to N makes it hang up on the next N
requests without an answer: a blip, not an outage.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth_utils import keccak


@dataclass
class RpcProxy:
    target: str
    down_after: str | None = None
    swallow: bool = False
    drop_next: int = 0
    url: str = ""
    methods: list[str] = field(default_factory=list)
    down: threading.Event = field(default_factory=threading.Event)


@contextmanager
def rpc_proxy(
    target: str, *, down_after: str | None = None, swallow: bool = False
) -> Iterator[RpcProxy]:
    """Serve a :class:`RpcProxy` to ``target`` for the ``with`` block."""
    proxy = RpcProxy(target, down_after, swallow)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if proxy.down.is_set():  # gone: a request that came in meanwhile gets no answer
                self.close_connection = True
                return
            if proxy.drop_next > 0:
                proxy.drop_next -= 1
                self.close_connection = True
                return
            request = json.loads(body)
            names = [r["method"] for r in (request if isinstance(request, list) else [request])]
            if proxy.swallow and names == [proxy.down_after] == ["eth_sendRawTransaction"]:
                raw = bytes.fromhex(request["params"][0][2:])
                tx_hash = "0x" + keccak(raw).hex()
                answer = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": tx_hash})
                answer = answer.encode()
            else:
                relay = urllib.request.Request(
                    proxy.target, body, {"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(relay, timeout=60) as resp:
                    answer = resp.read()
            proxy.methods.extend(names)
            if proxy.down_after in names:
                proxy.down.set()  # before the answer: the caller sees it set
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            if proxy.down_after in names:
                # From another thread: shutdown() waits for serve_forever to return.
                threading.Thread(target=stop, daemon=True).start()

        def log_message(self, *args: Any) -> None:
            """Quiet: the test reads ``proxy.methods`` instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    stopped = threading.Lock()

    def stop() -> None:
        if stopped.acquire(blocking=False):
            server.shutdown()
            server.server_close()  # the port now refuses connections

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        stop()
        thread.join()
