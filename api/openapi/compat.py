"""Breaking changes between two OpenAPI 3.1 documents: the last release's and today's.

A change breaks a client written against ``old`` when a request it sent may now be
refused, or an answer it read may now hold what it cannot read:

* a path, an operation, a response status or media type, or a webhook is gone;
* a request: a new required body, parameter or field; a field or parameter gone;
  a narrower type, enum or bound (length, items, minimum, maximum, pattern); other
  credentials asked for (``security``);
* an answer (a response body, or a webhook's body, which the server sends): a field
  gone or made optional; a type or an enum that now allows more than before;
* a problem ``type`` URI (``x-problem-types``) is gone.

Schemas are compared structurally, ``$ref`` followed within the document
(:data:`MAX_REF_HOPS`), the walk bounded by :data:`MAX_DEPTH`, and each pair of
schemas compared once (so recursive schemas end). No maintained Python library does
this comparison (oasdiff, the reference tool, is a Go program), hence this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

#: A ``$ref`` chain longer than this is a loop of references to references.
MAX_REF_HOPS: Final = 16
#: Our schemas nest under 15 levels; deeper is a document built to exhaust the walk.
MAX_DEPTH: Final = 64
METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Bounds that, moved this way, refuse a request that was accepted before.
#: Bounds of a request value: an upper one lowered, a lower one raised or a pattern
#: changed refuses a request that was accepted before.
_BOUNDS: Final[Mapping[str, Literal["upper", "lower", "exact"]]] = {
    "maxLength": "upper",
    "maxItems": "upper",
    "maxProperties": "upper",
    "maximum": "upper",
    "exclusiveMaximum": "upper",
    "minLength": "lower",
    "minItems": "lower",
    "minProperties": "lower",
    "minimum": "lower",
    "exclusiveMinimum": "lower",
    "pattern": "exact",
}
_MAJOR: Final = re.compile(r"^/v(\d+)(?:/|$)")

Schema = Mapping[str, Any]
Direction = Literal["request", "response"]


class CompatError(ValueError):
    """A document or a declaration this module cannot read (a remote ``$ref``, a loop)."""


@dataclass(frozen=True, order=True)
class Change:
    """One breaking change: ``kind`` (e.g. ``response-field-removed``), ``where`` (the
    operation, ``POST /v1/verify``) and ``detail`` (status, media type, field path)."""

    kind: str
    where: str
    detail: str = ""

    @property
    def key(self) -> str:
        """The text a declaration names this change by."""
        return " ".join(part for part in (self.kind, self.where, self.detail) if part)


@dataclass(frozen=True)
class Declaration:
    """A breaking change declared on purpose, served under a new major ``prefix``."""

    key: str
    prefix: str
    note: str = ""


def _resolve(doc: Schema, schema: Any) -> Schema:
    """``schema`` with its ``$ref`` chain followed (local JSON pointers only)."""
    for _ in range(MAX_REF_HOPS):
        if not isinstance(schema, Mapping):
            return {}
        ref = schema.get("$ref")
        if ref is None:
            return schema
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise CompatError(f"only local $ref are followed, not {ref!r}")
        target: Any = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise CompatError(f"$ref {ref} points at nothing")
            target = target[part]
        schema = target
    raise CompatError(f"a $ref chain is longer than {MAX_REF_HOPS}")


@dataclass
class _Walk:
    """Compares the schemas of one place (an operation's request or response)."""

    old_doc: Schema
    new_doc: Schema
    direction: Direction
    where: str
    found: list[Change]
    seen: set[tuple[int, int]] = field(default_factory=set)

    def add(self, kind: str, detail: str) -> None:
        self.found.append(Change(f"{self.direction}-{kind}", self.where, detail))

    def branches(self, doc: Schema, schema: Schema) -> list[Schema]:
        parts = [*schema.get("anyOf", ()), *schema.get("oneOf", ())]
        return [_resolve(doc, part) for part in parts]

    def types(self, doc: Schema, schema: Schema) -> frozenset[str] | None:
        """The JSON types ``schema`` allows, ``None`` for any."""
        declared = schema.get("type")
        if isinstance(declared, str):
            return frozenset({declared})
        if isinstance(declared, list):
            return frozenset(declared)
        if "const" in schema:
            return frozenset({_json_type(schema["const"])})
        if "enum" in schema:
            return frozenset(_json_type(v) for v in schema["enum"])
        parts = self.branches(doc, schema)
        if parts:
            allowed: set[str] = set()
            for part in parts:
                one = self.types(doc, part)
                if one is None:
                    return None
                allowed |= one
            return frozenset(allowed)
        for part in schema.get("allOf", ()):
            one = self.types(doc, _resolve(doc, part))
            if one is not None:
                return one
        return frozenset({"object"}) if "properties" in schema else None

    def enum(self, doc: Schema, schema: Schema) -> frozenset[str] | None:
        """The values ``schema`` allows (as JSON text), ``None`` if not a closed list."""
        if "const" in schema:
            return frozenset({_text(schema["const"])})
        if "enum" in schema:
            return frozenset(_text(v) for v in schema["enum"])
        parts = self.branches(doc, schema)
        values: set[str] = set()
        for part in parts:
            if part.get("type") == "null":
                values.add("null")
                continue
            one = self.enum(doc, part)
            if one is None:
                return None
            values |= one
        return frozenset(values) if parts else None

    def properties(self, doc: Schema, schema: Schema) -> tuple[dict[str, Schema], set[str]]:
        """Fields and required fields, merged over ``allOf`` and object branches."""
        props = dict(schema.get("properties", {}))
        required = set(schema.get("required", ()))
        for part in schema.get("allOf", ()):
            more, needed = self.properties(doc, _resolve(doc, part))
            props.update(more)
            required |= needed
        in_every: set[str] | None = None  # required in each object branch
        for part in self.branches(doc, schema):
            if "properties" in part or "allOf" in part:
                more, needed = self.properties(doc, part)
                props.update(more)
                in_every = needed if in_every is None else in_every & needed
        return props, required | (in_every or set())

    def children(self, doc: Schema, schema: Schema, key: str) -> Schema | None:
        """``items`` or ``additionalProperties`` of ``schema`` or of its one branch having it."""
        own = schema.get(key)
        if isinstance(own, Mapping):
            return _resolve(doc, own)
        for part in self.branches(doc, schema):
            found = self.children(doc, part, key)
            if found is not None:
                return found
        return None

    def compare(self, old: Any, new: Any, path: str, depth: int = 0) -> None:
        old_s, new_s = _resolve(self.old_doc, old), _resolve(self.new_doc, new)
        if (id(old_s), id(new_s)) in self.seen:
            return
        if depth > MAX_DEPTH:
            raise CompatError(f"{self.where} {path}: schemas nest deeper than {MAX_DEPTH}")
        self.seen.add((id(old_s), id(new_s)))
        self.compare_values(old_s, new_s, path)
        self.compare_fields(old_s, new_s, path, depth)
        for key, suffix in (("items", "[]"), ("additionalProperties", ".*")):
            old_child = self.children(self.old_doc, old_s, key)
            new_child = self.children(self.new_doc, new_s, key)
            if old_child is not None and new_child is not None:
                self.compare(old_child, new_child, path + suffix, depth + 1)

    def compare_values(self, old: Schema, new: Schema, path: str) -> None:
        old_t, new_t = self.types(self.old_doc, old), self.types(self.new_doc, new)
        old_e, new_e = self.enum(self.old_doc, old), self.enum(self.new_doc, new)
        if self.direction == "request":
            if new_t is not None and (old_t is None or not _within(old_t, new_t)):
                self.add("type-narrowed", path)
            if new_e is not None and (old_e is None or not old_e <= new_e):
                self.add("enum-narrowed", path)
            for bound, side in _BOUNDS.items():
                if bound in new and (bound not in old or _narrower(side, old[bound], new[bound])):
                    self.add("bound-narrowed", f"{path} {bound}")
        else:
            if old_t is not None and (new_t is None or not _within(new_t, old_t)):
                self.add("type-widened", path)
            if old_e is not None and (new_e is None or not new_e <= old_e):
                self.add("enum-widened", path)

    def compare_fields(self, old: Schema, new: Schema, path: str, depth: int) -> None:
        old_props, old_req = self.properties(self.old_doc, old)
        new_props, new_req = self.properties(self.new_doc, new)
        for name in sorted(old_props.keys() - new_props.keys()):
            self.add("field-removed", f"{path}.{name}")
        if self.direction == "request":
            for name in sorted(new_req - old_req):
                self.add("field-required", f"{path}.{name}")
        else:
            for name in sorted((old_req - new_req) & new_props.keys()):
                self.add("field-optional", f"{path}.{name}")
        for name in old_props.keys() & new_props.keys():
            self.compare(old_props[name], new_props[name], f"{path}.{name}", depth + 1)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), "object"
    )


def _narrower(side: str, old: Any, new: Any) -> bool:
    if side == "upper":
        return bool(new < old)
    if side == "lower":
        return bool(new > old)
    return bool(new != old)


def _text(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def _within(inner: frozenset[str], outer: frozenset[str]) -> bool:
    """Every type of ``inner`` is allowed by ``outer`` (an integer is a number)."""
    return all(t in outer or (t == "integer" and "number" in outer) for t in inner)


def _operations(doc: Schema, section: str) -> Iterator[tuple[str, str, Schema]]:
    for path, item in doc.get(section, {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, _resolve(doc, item[method])


def _compare_operation(
    old_doc: Schema, new_doc: Schema, where: str, old: Schema, new: Schema, *, webhook: bool
) -> list[Change]:
    found: list[Change] = []
    sent: Direction = "response" if webhook else "request"
    old_security = old.get("security", old_doc.get("security", []))
    new_security = new.get("security", new_doc.get("security", []))
    if new_security and new_security != old_security:
        found.append(Change("request-security-changed", where))
    _compare_request(old_doc, new_doc, where, old, new, sent, found)
    for status, old_resp in old.get("responses", {}).items():
        new_resp = new.get("responses", {}).get(status)
        if new_resp is None:
            found.append(Change("response-removed", where, status))
            continue
        old_content = _resolve(old_doc, old_resp).get("content", {})
        new_content = _resolve(new_doc, new_resp).get("content", {})
        for media, old_media in old_content.items():
            if media not in new_content:
                found.append(Change("response-media-removed", where, f"{status} {media}"))
            elif "schema" in old_media and "schema" in new_content[media] and not webhook:
                walk = _Walk(old_doc, new_doc, "response", where, found)
                walk.compare(
                    old_media["schema"], new_content[media]["schema"], f"{status} {media} $"
                )
    return found


def _compare_request(
    old_doc: Schema,
    new_doc: Schema,
    where: str,
    old: Schema,
    new: Schema,
    direction: Direction,
    found: list[Change],
) -> None:
    old_params = {(p["in"], p["name"]): p for p in map(_param(old_doc), old.get("parameters", ()))}
    new_params = {(p["in"], p["name"]): p for p in map(_param(new_doc), new.get("parameters", ()))}
    for key in sorted(old_params.keys() - new_params.keys()):
        found.append(Change("request-parameter-removed", where, ":".join(key)))
    for key, param in sorted(new_params.items()):
        was = old_params.get(key)
        newly_required = param.get("required") and not (was and was.get("required"))
        if newly_required and direction == "request":  # a webhook's receiver gets more
            found.append(Change("request-parameter-required", where, ":".join(key)))
        if was is not None and "schema" in was and "schema" in param:
            walk = _Walk(old_doc, new_doc, "request", where, found)
            walk.compare(was["schema"], param["schema"], ":".join(key))
    old_body = _resolve(old_doc, old.get("requestBody", {}))
    new_body = _resolve(new_doc, new.get("requestBody", {}))
    if new_body.get("required") and not old_body.get("required") and direction == "request":
        found.append(Change("request-body-required", where))
    new_content = new_body.get("content", {})
    for media, old_media in old_body.get("content", {}).items():
        if media not in new_content:
            found.append(Change("request-media-removed", where, media))
        elif "schema" in old_media and "schema" in new_content[media]:
            walk = _Walk(old_doc, new_doc, direction, where, found)
            walk.compare(old_media["schema"], new_content[media]["schema"], f"{media} $")


def _param(doc: Schema) -> Any:
    return lambda param: _resolve(doc, param)


def breaking_changes(old: Schema, new: Schema) -> list[Change]:
    """Every change from ``old`` to ``new`` that can break a client of ``old``, sorted."""
    found: list[Change] = []
    for section, webhook in (("paths", False), ("webhooks", True)):
        new_ops = {(p, m): op for p, m, op in _operations(new, section)}
        new_paths = set(new.get(section, {}))
        for path, method, op in _operations(old, section):
            where = f"{method.upper()} {path}" if not webhook else f"webhook {path}"
            if path not in new_paths:
                found.append(Change("webhook-removed" if webhook else "path-removed", where))
            elif (path, method) not in new_ops:
                found.append(Change("operation-removed", where))
            else:
                new_op = new_ops[path, method]
                found += _compare_operation(old, new, where, op, new_op, webhook=webhook)
    gone = set(problem_types(old)) - set(problem_types(new))
    found += [Change("problem-type-removed", "info", uri) for uri in sorted(gone)]
    return sorted(set(found))


def problem_types(doc: Schema) -> list[str]:
    """The problem ``type`` URIs a document publishes (``info.x-problem-types``)."""
    return [entry["type"] for entry in doc.get("info", {}).get("x-problem-types", ())]


def _major(text: str) -> int:
    """The major version of a path (``/v2/verify`` -> 2); unversioned paths are 1."""
    path = text.split(" ", 1)[-1]
    matched = _MAJOR.match(path)
    return int(matched.group(1)) if matched else 1


def undeclared(
    changes: Iterable[Change], declared: Sequence[Declaration], new: Schema
) -> list[str]:
    """Why the gate fails: each undeclared change's key, and each bad declaration.

    A declaration stands only with a major path ``prefix`` beyond the changed
    operation's (``/v2`` for a change under ``/v1``) that the new document serves.
    """
    problems: list[str] = []
    by_key = {d.key: d for d in declared}
    keys = set()
    for change in changes:
        keys.add(change.key)
        declaration = by_key.get(change.key)
        if declaration is None:
            problems.append(f"undeclared breaking change: {change.key}")
            continue
        prefix = declaration.prefix.rstrip("/")
        served = any(path.startswith(prefix + "/") for path in new.get("paths", {}))
        if _major(prefix) <= _major(change.where) or not _MAJOR.match(prefix) or not served:
            problems.append(
                f"declared change {change.key} needs a served major prefix beyond its own, "
                f"not {declaration.prefix!r}"
            )
    problems += [f"declared change matches nothing: {k}" for k in sorted(by_key.keys() - keys)]
    return problems
