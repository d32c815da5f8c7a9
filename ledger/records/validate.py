"""Validate and normalise one raw ``credit-account-report`` record (version 1 or 2).

:func:`validate_record` returns the normalised record or raises
:class:`RecordRejected` listing *every* problem of the row (field and reason).

The normalised record holds only JSON types: ``str``, ``int`` and lists of
``str`` / ``dict``. Dates stay ISO strings (``"2025-03-31"``), amounts become
decimal strings with exactly two fraction digits (``"1234.5"`` -> ``"1234.50"``),
the mobile becomes 11 digits, ID numbers and org codes are upper-cased.
**Absent optional fields are omitted** (never ``None``; ``None``, ``""`` and
``[]`` on input all mean absent); ``currency`` defaults to ``"CNY"``. Keys keep
the input order (canonical JSON sorts them anyway).

Refused outright: C3 data (JR/T 0171-2020 "user authentication information":
passwords, PINs, card security codes, biometrics, track data) and any field the
schema does not know. A record is checked against the fields of its version
(``schema_version``; none is version 1): a field of another version is refused
by name. Reasons are fixed texts: they never quote a value, so a
rejection report is safe to log even when the value was an ID number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple

from ledger.errors import InputError
from ledger.records._checks import Bad, build_check, check_version
from ledger.records.frame import records_frame
from ledger.records.rules import RULES, broken_rules
from ledger.records.schema import (
    DEFAULT_CURRENCY,
    DEFAULT_VERSION,
    FIELDS,
    FIELDS_BY_NAME,
    SCHEMAS,
    VERSION_FIELD,
)

#: Field names (lower-cased, '-' and ' ' read as '_') that are C3 data whatever the context.
C3_NAMES: Final = frozenset(
    """password passwd pwd passcode pin pin_code pin_block pinblock cvv cvv2 cvn cvn2 cvc cvc2
    card_security_code security_code biometric biometrics fingerprint face_image face_photo
    faceprint iris iris_scan voiceprint track_data track1 track2 track3 magnetic_stripe""".split()  # noqa: SIM905
)
#: Fragments that make any field name C3 (e.g. ``login_password``, ``cvv_code``).
C3_FRAGMENTS: Final = (
    "password", "passwd", "cvv", "cvn2", "cvc2", "fingerprint", "voiceprint",
    "biometric", "face_image", "iris_", "track_data", "security_code", "pin_block",
    "密码", "口令", "指纹", "人脸", "虹膜", "声纹", "安全码", "磁道",
)  # fmt: skip
_PRINTABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ -]{0,63}").fullmatch
_C3_REASON: Final = "C3 data is refused (JR/T 0171-2020: authentication data must not be sent)"
MISSING: Final = "required field is missing"


class Problem(NamedTuple):
    """One thing wrong with a record: the field blamed and a reason that quotes no value."""

    field: str
    reason: str


class RecordRejected(InputError):  # noqa: N818 - the name is part of the API
    """A record failed validation; ``problems`` lists every problem found in it."""

    code = "record-rejected"

    def __init__(self, problems: list[Problem]) -> None:
        listed = "; ".join(f"{p.field}: {p.reason}" for p in problems)
        super().__init__(f"record rejected ({len(problems)} problem(s)): {listed}")
        self.problems = problems


#: Per version, per field: its check (raw value -> normalised value, or :class:`Bad`).
CHECKS_OF: Final = {
    version: {spec.name: build_check(spec) for spec in fields if spec.name != VERSION_FIELD}
    for version, fields in SCHEMAS.items()
}
#: Per version, its required fields (``schema_version`` of v2 is checked apart).
REQUIRED_OF: Final = {
    version: frozenset(s.name for s in fields if s.required and s.name != VERSION_FIELD)
    for version, fields in SCHEMAS.items()
}
#: Version 1's checks and required fields: a record without ``schema_version``.
CHECKS: Final = CHECKS_OF[DEFAULT_VERSION]
REQUIRED: Final = REQUIRED_OF[DEFAULT_VERSION]
ORDER: Final = {spec.name: position for position, spec in enumerate(FIELDS)}
_OTHER_VERSION: Final = "not a field of schema_version {version}"


class Checked(NamedTuple):
    """A record after its fields' own checks: the values that passed, and the problems."""

    record: dict[str, object]
    problems: list[Problem]
    #: Fields that failed their check or are required and missing.
    failed: frozenset[str]


def version_of(raw: Mapping[str, object]) -> tuple[int, Problem | None]:
    """The schema version a raw record states (none: version 1), or version 1 and why not."""
    value = raw.get(VERSION_FIELD)
    if value is None or value == "":
        return DEFAULT_VERSION, None
    try:
        return check_version(value), None
    except Bad as bad:
        return DEFAULT_VERSION, Problem(VERSION_FIELD, bad.reason)


def check_fields(raw: Mapping[str, object]) -> Checked:
    """Each field's own check, unknown fields and missing required ones; not the rules.

    Version 1 records leave ``schema_version`` out (a v1 record is the same with or
    without it); later versions keep it, as an int.
    """
    record: dict[str, object] = {}
    problems: list[Problem] = []
    version, bad_version = version_of(raw)
    if bad_version is not None:  # no schema to check the rest against
        return Checked({}, [bad_version], frozenset(FIELDS_BY_NAME))
    if version != DEFAULT_VERSION:
        record[VERSION_FIELD] = version
    checks = CHECKS_OF[version]
    known = checks.get
    unknown = False
    for name, value in raw.items():
        check = known(name)
        if check is None:
            if name == VERSION_FIELD:
                continue
            if name in FIELDS_BY_NAME:  # a field of another version: named, it is ours
                problems.append(Problem(name, _OTHER_VERSION.format(version=version)))
                continue
            unknown = True
            continue
        try:
            record[name] = check(value)
        except Bad as bad:
            # Checks fail on None, "" and []; only here do those count as "absent".
            if not (value is None or value == "" or value == []):
                problems.append(Problem(name, bad.reason))
    if unknown:
        problems.extend(_unexpected(raw))
    if "currency" not in record:
        record["currency"] = DEFAULT_CURRENCY
    failed = frozenset(p.field for p in problems)
    missing = REQUIRED_OF[version].difference(record, failed)
    problems.extend(Problem(field, MISSING) for field in sorted(missing, key=ORDER.__getitem__))
    return Checked(record, problems, failed | missing)


def in_order(problems: list[Problem]) -> list[Problem]:
    """Problems in schema field order (unknown fields last); one field's keep their order."""
    return sorted(problems, key=lambda p: ORDER.get(p.field, len(ORDER)))


def validate_record(raw: Mapping[str, object]) -> dict[str, object]:
    """The normalised record, or :class:`RecordRejected` with every problem of the row.

    The cross-field rules are the ones ingest runs on whole chunks
    (:mod:`ledger.records.rules`), here on a frame of one row.
    """
    outcome = validate_records([raw])[0]
    if isinstance(outcome, RecordRejected):
        raise outcome
    return outcome


def validate_records(
    raws: Sequence[Mapping[str, object]],
) -> list[dict[str, object] | RecordRejected]:
    """:func:`validate_record` of each record, the cross-field rules run once for all."""
    checked = [check_fields(raw) for raw in raws]
    if not checked:
        return []
    frame = records_frame(
        range(len(checked)), [c.record for c in checked], [c.failed for c in checked]
    )
    out: list[dict[str, object] | RecordRejected] = []
    for one, broken in zip(checked, broken_rules(frame).rows(), strict=True):
        problems = one.problems + [
            Problem(rule.field, reason)
            for rule, reason in zip(RULES, broken, strict=True)
            if reason is not None
        ]
        out.append(RecordRejected(in_order(problems)) if problems else one.record)
    return out


def is_c3_field(name: str) -> bool:
    """True when a field name denotes C3 data (authentication information)."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    return key in C3_NAMES or any(fragment in key for fragment in C3_FRAGMENTS)


def _unexpected(raw: Mapping[str, object]) -> list[Problem]:
    found = []
    for position, name in enumerate(raw, 1):
        if name in FIELDS_BY_NAME:
            continue
        c3 = isinstance(name, str) and is_c3_field(name)
        reason = _C3_REASON if c3 else "unknown field"
        # An unknown key may itself be data (a header-less CSV's first row holds an
        # account id or a name): only names we know (C3 ones) are echoed, others
        # by position.
        shown = name if c3 and _PRINTABLE_NAME(name) else f"<field #{position}>"
        found.append(Problem(shown, reason))
    return found
