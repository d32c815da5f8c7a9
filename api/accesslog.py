"""Structured JSON access logs without personal data.

One line per request on the ``api.access`` logger: method, the matched route
*template* (``/v1/proofs/{leaf_hash}``, never the raw path or query string),
status, duration, and the name and role of the API key. Bodies, headers and
path parameters are never logged.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.responses import dumps

log = logging.getLogger("api.access")


class AccessLog:
    """ASGI middleware writing one JSON line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            seconds = time.perf_counter() - start
            log.info(dumps(entry(scope, status, seconds)).decode())
            metrics = getattr(scope["app"].state, "metrics", None) if "app" in scope else None
            if metrics is not None:
                metrics.observe(scope["method"], _route(scope), status, seconds)


def _route(scope: Scope) -> str | None:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


def entry(scope: Scope, status: int, seconds: float) -> dict[str, object]:
    route = scope.get("route")
    state = scope.get("state") or {}
    return {
        "method": scope["method"],
        "route": getattr(route, "path", None),  # a template; unmatched paths stay unnamed
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "key": state.get("key_name"),
        "role": state.get("key_role"),
    }
