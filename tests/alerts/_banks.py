"""Receiving banks for delivery tests: real HTTP servers on loopback ports.

Each bank verifies every delivery with the receiver helper, as a bank would
(:class:`ledger.client.WebhookReceiver`), answers what its ``answer`` function
says, and records every request. A bank that answers anything but 2xx calls
``forget`` so that the sender's retry is not mistaken for a replay; a replay of
an id it accepted is answered 200 (it has that alert already) and counted.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ledger.client import ReplayedWebhookError, WebhookError, WebhookReceiver
from tests.conftest import free_port

#: (webhook id, how many times this id came before) -> (status, extra headers)
Answer = Callable[[str, int], tuple[int, dict[str, str]]]


def always(status: int, **headers: str) -> Answer:
    return lambda _id, _nth: (status, dict(headers))


def fail_first(times: int, status: int, **headers: str) -> Answer:
    """``status`` (with ``headers``) to the first ``times`` requests of each id, then 200."""
    return lambda _id, nth: (status, dict(headers)) if nth < times else (200, {})


@dataclass(frozen=True)
class Received:
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes
    status: int
    #: "ok", "replayed", "truncated" (the sender died mid-request; answered 400),
    #: "unchecked" (no receiver), or the receiver's error class name (answered 400).
    verdict: str
    at: float  # time.monotonic() on arrival


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    bank: Bank

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.bank.lock:
            self.bank.connections += 1
        return True


@dataclass
class Bank:
    answer: Answer = field(default_factory=lambda: always(200))
    port: int = field(default_factory=free_port)
    receiver: WebhookReceiver | None = None
    #: While set, the handler waits (up to 60 s) before answering: a slow bank.
    hold: threading.Event | None = None
    #: Serve https with this context, at https://localhost:PORT.
    tls: ssl.SSLContext | None = None
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _Server | None = None

    @property
    def url(self) -> str:
        origin = f"https://localhost:{self.port}" if self.tls else f"http://127.0.0.1:{self.port}"
        return f"{origin}/hooks/credit-anchor?token=bank-secret-path"

    def start(self) -> Bank:
        bank = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bank.handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._server.bank = self
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        length = int(request.headers.get("content-length", "0"))
        body = request.rfile.read(length)
        webhook_id = request.headers.get("webhook-id", "")
        # A sender killed mid-request leaves a short body: never a delivery.
        verdict = "truncated" if len(body) < length else self._verify(request, body)
        if self.hold is not None:
            self.hold.wait(60)
        with self.lock:
            nth = sum(1 for r in self.received if r.webhook_id == webhook_id)
            if verdict == "replayed":
                status, headers = 200, dict[str, str]()  # it has this alert already
            elif verdict in ("ok", "unchecked"):
                status, headers = self.answer(webhook_id, nth)
            else:
                status, headers = 400, {}
            if not 200 <= status < 300 and self.receiver is not None and verdict == "ok":
                self.receiver.forget(webhook_id)
            self.received.append(
                Received(
                    webhook_id,
                    request.headers.get("webhook-timestamp", ""),
                    request.headers.get("webhook-signature", ""),
                    body,
                    status,
                    verdict,
                    arrived,
                )
            )
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("content-length", "0")
        request.end_headers()

    def _verify(self, request: BaseHTTPRequestHandler, body: bytes) -> str:
        if self.receiver is None:
            return "unchecked"
        try:
            self.receiver.verify(request.headers, body)
        except ReplayedWebhookError:
            return "replayed"
        except WebhookError as exc:
            return type(exc).__name__
        return "ok"

    def requests_for(self, webhook_id: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.webhook_id == webhook_id]

    def accepted(self) -> dict[str, int]:
        """Webhook id -> how many of its requests were answered 2xx."""
        with self.lock:
            counts: dict[str, int] = {}
            for r in self.received:
                if 200 <= r.status < 300:
                    counts[r.webhook_id] = counts.get(r.webhook_id, 0) + 1
            return counts
