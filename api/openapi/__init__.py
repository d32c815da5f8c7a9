"""The OpenAPI document: what the app publishes, and the last release's, committed.

``published()`` is the document of the last release (``v1.json``, written by
``make openapi`` when a release is cut); the compatibility gate
(:mod:`api.openapi.compat`) compares the app's document with it. Breaking changes
made on purpose are declared in ``breaking-changes.toml``, each under a new major
path prefix.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI

from api import deprecation
from api.errors import problem_types
from api.openapi.compat import Declaration

HERE: Final = Path(__file__).resolve().parent
#: The last release's document (the gate's baseline).
PUBLISHED: Final = HERE / "v1.json"
#: Breaking changes declared on purpose (the gate accepts these alone).
DECLARED: Final = HERE / "breaking-changes.toml"


def install(app: FastAPI) -> None:
    """Publish the problem types (``info.x-problem-types``) and the deprecation marks."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        doc = build()  # FastAPI's, cached until a route is added
        if "x-problem-types" not in doc["info"]:
            deprecation.mark(doc, app)
            doc["info"]["x-problem-types"] = problem_types()
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def dumps(doc: dict[str, Any]) -> str:
    """The committed form: sorted keys, two-space indent, UTF-8 text, one final newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def published(path: Path = PUBLISHED) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def declarations(path: Path = DECLARED) -> list[Declaration]:
    """The ``[[change]]`` tables of ``breaking-changes.toml`` (``key``, ``prefix``, ``note``)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        Declaration(key=entry["key"], prefix=entry["prefix"], note=entry.get("note", ""))
        for entry in data.get("change", [])
    ]
