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

A route can go further and not parse at all: ``POST /v1/verify`` only needs each
record's RFC 8785 bytes (for its leaf hash and its bundle), and for a 10000-record
body building 600,000 Python objects, validating them and freeing them again
was most of the request. Its route sets ``reader = read_records``: the C reader
writes the records' canonical bytes straight from the body, or says None, and
then the body is parsed and validated as before.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Request, Response
from fastapi.routing import APIRoute

from api.config import MAX_ITEMS
from ledger.proofs.canonical import parse_json, scan_json

try:
    from ledger._speedups import jcs_records as _jcs_records
except ImportError:  # the extension is optional
    _jcs_records = None  # type: ignore[assignment]

#: Scope key holding ``scan``'s ``(depth, plain)`` of the request body.
SCAN: Final = "ledger.json_scan"
#: ``(depth, plain)`` of a body by the C scan; None without the C extension.
scan = scan_json
#: ``(json.loads(body), plain)``, by orjson where the scan allows it.
loads = parse_json


def is_plain(request: Request) -> bool:
    """Whether the body this request parsed was plain (see the module docstring)."""
    return bool(getattr(request.state, "json_plain", False))


@dataclass(frozen=True, slots=True)
class RecordTexts:
    """A verify body read without parsing it: its records' RFC 8785 bytes and leaf hashes.

    What :func:`read_records` hands a route instead of parsed JSON (see there).
    """

    texts: list[bytes]
    #: Their leaf hashes, ``SHA-256(0x00 || text)``.
    hashes: list[bytes]


def read_records(body: bytes) -> RecordTexts | None:
    """``{"records": [...]}`` as its records' JCS bytes, by the C reader; None off its path.

    ``_speedups.jcs_records`` writes each record's canonical bytes straight from
    the body, and gives None unless the body is one that parses and validates as
    a ``VerifyRequest`` unchanged, with records of JSON types, ASCII keys, safe
    integers (see its comment); for anything else the route parses as before.
    """
    if _jcs_records is None:
        return None
    read = _jcs_records(body, MAX_ITEMS)  # reads and hashes without holding the GIL
    return None if read is None else RecordTexts(*read)


class _Request(Request):
    #: Reads a body without parsing it, or None to parse (set by the route).
    reader: Callable[[bytes], object | None] | None = None

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            read = self.reader(body) if self.reader is not None else None
            if read is not None:
                self._json = read
                self.state.json_plain = False
                return read
            self._json, plain = loads(body, self.scope.get(SCAN))
            self.state.json_plain = plain
        return self._json


class FastJSONRoute(APIRoute):
    """An ``APIRoute`` whose handler reads JSON bodies with :func:`loads`.

    A subclass may set ``reader``: a function given the raw body that returns what
    the handler receives as its (``SkipValidation``) body instead, or None to parse.
    """

    reader: Callable[[bytes], object | None] | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        reader = type(self).reader

        async def route(request: Request) -> Response:
            fast = _Request(request.scope, request.receive)
            fast.reader = reader
            return await handler(fast)

        return route
