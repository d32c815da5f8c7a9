"""Declarative, versioned desensitisation policy (TOML), checked completely when it loads.

A policy targets one ``schema_version`` of ``credit-account-report`` and names
every input field of that version and the ones before it exactly once, with one
action or a list of actions (one input may feed several outputs):
``drop``, ``keep``, ``mask`` (``style``), ``hmac`` (``key``) and ``generalise``
(``style``). ``output`` names the output field and defaults to the input name;
``hmac`` and the ``age_band`` / ``province`` generalisations must name it.
See ``default_policy.toml`` for the shipped policy and a commented example.

Refused at load, with a :class:`~ledger.privacy.errors.PolicyError` naming the
field: a schema field left out, an unknown field, an unknown action, style or
parameter, ``keep`` on a C2 identifier, a mask style that leaves too much of a C2
identifier (e.g. ``card`` on an ID number shows 10 of 18 characters), two
actions writing one output, and ``drop`` mixed with other actions.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Final, Literal, cast

from ledger.privacy.errors import PolicyError
from ledger.privacy.masks import MASKS
from ledger.records.schema import FIELDS_BY_NAME, SCHEMA_ID, SCHEMA_VERSIONS, SCHEMAS

ActionKind = Literal["drop", "keep", "mask", "hmac", "generalise"]
KEY_IDS_OUTPUT: Final = "pseudonym_key_ids"  # reserved: the Desensitiser writes key ids there
#: Mask styles allowed on each C2 identifier: what stays visible is not enough to identify.
SAFE_MASKS: Final[Mapping[str, frozenset[str]]] = {
    "subject_name": frozenset({"name"}),
    "subject_id_number": frozenset({"id"}),
    "subject_mobile": frozenset({"mobile", "id"}),
    "account_id": frozenset({"card", "id"}),
}
MASK_STYLES: Final = frozenset(MASKS)
#: Generalisations and the input field kinds they apply to.
GENERALISE_KINDS: Final[Mapping[str, frozenset[str]]] = {
    "age_band": frozenset({"id_number"}),
    "province": frozenset({"id_number"}),
    "month": frozenset({"date"}),
}
#: Input kinds whose values are strings (mask and hmac need a string).
_TEXT_KINDS: Final = frozenset(
    {"code", "text", "name", "enum", "date", "month", "decimal"}
    | {"uscc", "id_number", "mobile", "currency"}
)
_NAMED_OUTPUT: Final = frozenset({"age_band", "province"})  # output must be named
_PARAMS: Final[Mapping[str, frozenset[str]]] = {
    "drop": frozenset({"action"}),
    "keep": frozenset({"action", "output"}),
    "mask": frozenset({"action", "style", "output"}),
    "hmac": frozenset({"action", "key", "output"}),
    "generalise": frozenset({"action", "style", "output"}),
}
_OUTPUT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}").fullmatch
KEY_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}").fullmatch
_TOP_LEVEL: Final = frozenset({"name", "version", "schema", "schema_version", "fields"})


@dataclass(frozen=True, slots=True)
class Action:
    """One treatment of one input field; ``output`` is None only for ``drop``."""

    field: str
    kind: ActionKind
    output: str | None = None
    style: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Policy:
    """A loaded, checked policy: its name, version and actions in file order."""

    name: str
    version: int
    actions: tuple[Action, ...]
    #: The newest record schema version the policy covers (records of later ones are refused).
    schema_version: int = 1

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        """Load and check a policy file; ``None`` loads the shipped default policy."""
        try:
            if path is None:
                text = resources.files(__package__).joinpath("default_policy.toml").read_text()
            else:
                text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"cannot read policy {path or 'default'}: {exc}") from None
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Policy:
        """Check a parsed policy document and build the policy."""
        return _parse(data)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The output field names, in policy order (plus ``pseudonym_key_ids`` when keyed)."""
        names = tuple(a.output for a in self.actions if a.output is not None)
        return (*names, KEY_IDS_OUTPUT) if self.key_names else names

    @property
    def key_names(self) -> frozenset[str]:
        """The pseudonym keys this policy needs from the keyring."""
        return frozenset(a.key for a in self.actions if a.key is not None)

    @property
    def digest(self) -> str:
        """``0x`` SHA-256 of the policy's canonical JSON: pins the rules, not just the version."""
        body = {"name": self.name, "version": self.version, "actions": [*map(asdict, self.actions)]}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        return "0x" + hashlib.sha256(canonical).hexdigest()


def _parse(data: Mapping[str, object]) -> Policy:
    if unknown := set(data) - _TOP_LEVEL:
        raise PolicyError(f"unknown policy settings: {', '.join(sorted(unknown))}")
    name, version, fields = data.get("name"), data.get("version"), data.get("fields")
    if not isinstance(name, str) or not name.strip():
        raise PolicyError("policy needs a non-empty `name`")
    if type(version) is not int or version < 1:
        raise PolicyError("policy needs an integer `version` >= 1")
    schema_version = data.get("schema_version")
    if (
        data.get("schema") != SCHEMA_ID
        or type(schema_version) is not int
        or schema_version not in SCHEMA_VERSIONS
    ):
        versions = " or ".join(map(str, SCHEMA_VERSIONS))
        raise PolicyError(f"policy must target schema {SCHEMA_ID!r} version {versions}")
    if not isinstance(fields, Mapping):
        raise PolicyError("policy needs a [fields] table")
    names = covered_fields(schema_version)
    for field in fields:
        if field not in names:
            raise PolicyError(f"policy names unknown field {field!r}", field=field)
    for field in names:
        if field not in fields:
            raise PolicyError(f"policy does not say what to do with {field!r}", field=field)
    actions = [a for field in names for a in _field_actions(field, fields[field])]
    _check_outputs(actions)
    return Policy(
        name=name,
        version=version,
        actions=tuple(actions),
        schema_version=schema_version,
    )


def covered_fields(schema_version: int) -> tuple[str, ...]:
    """The fields a policy for ``schema_version`` names: those of it and earlier versions."""
    names: dict[str, None] = {}
    for version in SCHEMA_VERSIONS:
        if version <= schema_version:
            names.update((spec.name, None) for spec in SCHEMAS[version])
    return tuple(names)


def _field_actions(field: str, value: object) -> list[Action]:
    entries = value if isinstance(value, list) else [value]
    if not entries:
        raise PolicyError(f"{field}: no action given", field=field)
    actions = [_action(field, entry) for entry in entries]
    if len(actions) > 1 and any(a.kind == "drop" for a in actions):
        raise PolicyError(f"{field}: `drop` cannot be combined with other actions", field=field)
    return actions


def _action(field: str, entry: object) -> Action:
    if not isinstance(entry, Mapping):
        raise PolicyError(f"{field}: each action must be a table", field=field)
    kind = entry.get("action")
    if not isinstance(kind, str) or kind not in _PARAMS:
        raise PolicyError(f"{field}: unknown action {kind!r}", field=field)
    if extra := set(entry) - _PARAMS[kind]:
        raise PolicyError(f"{field}: {kind} takes no {', '.join(sorted(extra))}", field=field)
    output, style, key = (_optional_text(field, entry, name) for name in ("output", "style", "key"))
    if kind != "drop" and output is None and kind != "hmac" and style not in _NAMED_OUTPUT:
        output = field
    action = Action(field, cast(ActionKind, kind), output, style, key)
    _check_action(action)
    return action


def _optional_text(field: str, entry: Mapping[str, object], param: str) -> str | None:
    value = entry.get(param)
    if value is not None and not isinstance(value, str):
        raise PolicyError(f"{field}: `{param}` must be a string", field=field)
    return value


def _check_action(a: Action) -> None:
    spec, f = FIELDS_BY_NAME[a.field], a.field
    if a.kind != "drop" and not (isinstance(a.output, str) and _OUTPUT_NAME(a.output)):
        raise PolicyError(f"{f}: {a.kind} needs an `output` name like subject_region", field=f)
    if a.kind == "keep" and spec.personal:
        raise PolicyError(f"{f}: a C2 identifier must not be kept in the clear", field=f)
    if a.kind in ("mask", "hmac") and spec.kind not in _TEXT_KINDS:
        raise PolicyError(f"{f}: {a.kind} applies to text fields only", field=f)
    if a.kind == "mask":
        allowed = SAFE_MASKS.get(f, MASK_STYLES)
        if a.style not in allowed:
            styles = ", ".join(sorted(allowed))
            raise PolicyError(f"{f}: mask style must be one of {styles}", field=f)
    if a.kind == "hmac" and not (isinstance(a.key, str) and KEY_NAME(a.key)):
        raise PolicyError(f"{f}: hmac needs a `key` name like 'subject'", field=f)
    if a.kind == "generalise" and spec.kind not in GENERALISE_KINDS.get(str(a.style), ()):
        raise PolicyError(f"{f}: generalise style {a.style!r} does not apply to it", field=f)


def _check_outputs(actions: list[Action]) -> None:
    seen: dict[str, str] = {}
    for a in actions:
        if a.output is None:
            continue
        if a.output == KEY_IDS_OUTPUT or a.output in seen:
            raise PolicyError(f"{a.field}: output {a.output!r} is already taken", field=a.field)
        seen[a.output] = a.field
