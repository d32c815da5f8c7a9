"""JSON responses serialised once, with orjson, and never re-validated.

A handler that returns a pydantic model pays for it three times in FastAPI
(dump, validate against ``response_model``, serialise). A handler that builds
plain JSON data itself can return ``FastJSON(data)`` instead: keep
``response_model=...`` on the route so OpenAPI still documents the body, and
keep a test that checks the data against that model.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import Response


def dumps(content: Any) -> bytes:
    """Compact UTF-8 JSON; what orjson cannot write (ints beyond 64 bits) goes to json."""
    try:
        return orjson.dumps(content)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")


class FastJSON(Response):
    """``application/json`` from plain data (dicts, lists, str, int, bool, None).

    ``orjson.Fragment`` values (JSON text already, as verify's bundles) are copied in
    as they are; data holding them must not need the ``json`` fallback of :func:`dumps`.
    """

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)
