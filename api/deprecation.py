"""Deprecated operations and fields, declared in one place, seen by every client.

An answer of a deprecated operation (or of one whose body carries a deprecated
field) has the headers ``Deprecation: @<unix seconds>`` (RFC 9745), ``Sunset:
<HTTP-date>`` (RFC 8594) and, when the entry names one, ``Link: <url>;
rel="deprecation"``; errors included. The OpenAPI document marks the operation
(or the field) ``deprecated: true``. ``ledger.client`` logs a warning once per
operation when it sees the headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Final

from fastapi import FastAPI
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: (METHOD, path template) of an operation.
Operation = tuple[str, str]


@dataclass(frozen=True)
class Deprecation:
    """When an operation (or, with ``field`` = ``"Model.field"``, one field of its
    bodies) was deprecated and when it may stop working; ``link`` documents the way on."""

    since: datetime
    sunset: datetime
    link: str | None = None
    field: str | None = None

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.sunset.tzinfo is None:
            raise ValueError("deprecation times are aware datetimes (UTC)")
        if self.sunset <= self.since:
            raise ValueError("the sunset comes after the deprecation")

    def headers(self) -> list[tuple[bytes, bytes]]:
        found = [
            (b"deprecation", f"@{int(self.since.timestamp())}".encode()),
            (b"sunset", format_datetime(self.sunset, usegmt=True).encode()),
        ]
        if self.link:
            found.append((b"link", f'<{self.link}>; rel="deprecation"'.encode()))
        return found


#: Everything deprecated today. Nothing is: an entry here is the whole change
#: (headers, OpenAPI marks, the client's warning); add one to the CHANGELOG too.
DEPRECATED: Final[Mapping[Operation, Deprecation]] = {}


def deprecate(app: FastAPI, entries: Mapping[Operation, Deprecation]) -> None:
    """Register ``entries`` on ``app`` (before it serves): each must name an operation
    of its OpenAPI document, and a field of a component schema if it names one."""
    added = {(m.upper(), path): (compile_path(path)[0], e) for (m, path), e in entries.items()}
    app.state.deprecated.update(added)
    app.openapi_schema = None
    try:
        app.openapi()  # the document with the marks: refuses an entry that names nothing
    except ValueError:
        for key in added:
            del app.state.deprecated[key]
        app.openapi_schema = None
        raise


def mark(doc: dict[str, Any], app: FastAPI) -> None:
    """Mark each deprecated operation, or field, ``deprecated: true`` in ``doc``."""
    schemas = doc.get("components", {}).get("schemas", {})
    for (method, path), (_regex, entry) in app.state.deprecated.items():
        operation = doc["paths"].get(path, {}).get(method.lower())
        if operation is None:
            raise ValueError(f"no operation {method} {path} to deprecate")
        if entry.field is None:
            operation["deprecated"] = True
            continue
        model, name = entry.field.split(".", 1)
        names = [n for n in (model, f"{model}-Input", f"{model}-Output") if n in schemas]
        if not names or not all(name in schemas[n].get("properties", {}) for n in names):
            raise ValueError(f"no field {entry.field} in the OpenAPI document")
        for n in names:
            schemas[n]["properties"][name]["deprecated"] = True


class DeprecationHeaders:
    """Adds the headers of :class:`Deprecation` to the answers of deprecated operations."""

    def __init__(
        self, app: ASGIApp, registry: dict[Operation, tuple[re.Pattern[str], Deprecation]]
    ) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.registry:
            await self.app(scope, receive, send)
            return
        entry = self._match(scope)
        if entry is None:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *entry.headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _match(self, scope: Scope) -> Deprecation | None:
        for (method, _path), (regex, entry) in self.registry.items():
            if scope["method"] == method and regex.match(scope["path"]):
                return entry
        return None


def install(app: FastAPI) -> None:
    """The middleware over ``app``'s registry, filled from :data:`DEPRECATED`."""
    app.state.deprecated = {}
    app.add_middleware(DeprecationHeaders, registry=app.state.deprecated)
    if DEPRECATED:
        deprecate(app, DEPRECATED)
