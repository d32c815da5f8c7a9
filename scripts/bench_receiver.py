"""A receiving bank for ``scripts/bench_delivery.py``: answers every POST 204 at once.

It notes when it answered each ``webhook-id`` (wall clock, seconds); ``GET``
returns those notes as JSON. An ASGI app served by uvicorn, as a bank's own
server would be, in a process of its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]

answered: dict[str, float] = {}


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    if scope["method"] == "GET":
        body = json.dumps(answered).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    headers = dict(scope["headers"])
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
    webhook_id = headers.get(b"webhook-id", b"").decode()
    answered.setdefault(webhook_id, time.time())
