"""JSON request bodies parsed by orjson wherever it provably agrees with ``json``.

``json.loads`` takes ~170 ms for a 10 MB verify body, orjson a tenth of that. They
differ only at the edges: orjson turns integers beyond 64 bits into floats, and
refuses what ``json`` accepts (NaN, lone surrogates, UTF-16 bodies). The C scan
``_speedups.json_scan`` (already run by :class:`api.limits.BodyLimits`, which
leaves its answer in the scope) says whether every number is a short integer
and every key plain ASCII; only then does orjson parse, and if it refuses,
``json`` parses as before, with its own errors. Such a body, if it nests at
most ``MAX_DEPTH`` levels, is also *plain*: JSON types only, ASCII keys, which
is what ``record_leaf_hash(..., plain=True)`` relies on.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi import Request, Response
from fastapi.routing import APIRoute

from ledger.proofs.canonical import parse_json, scan_json

#: Scope key holding ``scan``'s ``(depth, plain)`` of the request body.
SCAN: Final = "ledger.json_scan"
#: ``(depth, plain)`` of a body by the C scan; None without the C extension.
scan = scan_json
#: ``(json.loads(body), plain)``, by orjson where the scan allows it.
loads = parse_json


def is_plain(request: Request) -> bool:
    """Whether the body this request parsed was plain (see the module docstring)."""
    return bool(getattr(request.state, "json_plain", False))


class _Request(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            self._json, plain = loads(body, self.scope.get(SCAN))
            self.state.json_plain = plain
        return self._json


class FastJSONRoute(APIRoute):
    """An ``APIRoute`` whose handler reads JSON bodies with :func:`loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(_Request(request.scope, request.receive))

        return route
