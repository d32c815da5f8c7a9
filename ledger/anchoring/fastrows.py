"""The CSV fast path: chunks of rows through the C extension ``_speedups``.

:class:`FastCsv` compiles one CSV header and one desensitiser into a
``_speedups.Plan``; the plan runs validate -> desensitise -> leak guard -> salt
-> RFC 8785 -> leaf hash for a whole chunk in one C call. It accepts a row only
when every cell is already in normal form and nothing at all is in doubt;
every other row goes to ``slow(row_number, line)``, the Python reference path,
which gives the same answer it always gives (and names the problems of a
refused row). Text the C reader does not take on (a quoted cell spanning lines,
a stray quote, a lone CR) ends the C pass, and the reference path reads the
rest of the chunk. So the results are the reference path's, row for row; the
property tests in ``tests/anchoring/test_rowfast.py`` hold them to it.

The fast path is used only when the extension is built, its field table equals
:data:`ledger.records.schema.FIELDS`, and the header and the policy are ones
it can express (:meth:`FastCsv.build` returns None otherwise).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Final

from ledger.privacy import Desensitiser
from ledger.privacy.policy import KEY_IDS_OUTPUT
from ledger.proofs import canonical_bytes
from ledger.records import FIELDS
from ledger.records._iso4217 import CURRENCIES
from ledger.records.identifiers import resident_id_facts
from ledger.records.schema import FIELDS_BY_NAME, FieldSpec

if TYPE_CHECKING:
    from ledger import _speedups as _speedups_t

_speedups: ModuleType | None
try:
    from ledger import _speedups
except ImportError:  # not built (no compiler or no OpenSSL headers): the Python path only
    _speedups = None

SALT_BYTES: Final = 32
SALT_OUTPUT: Final = "salt"
RECORD_ID_OUTPUT: Final = "record_id"
#: Kinds whose values a mask, a pseudonym or a generalisation may be made from.
_TEXT_KINDS: Final = frozenset(
    {"code", "text", "name", "enum", "date", "month", "decimal"}
    | {"uscc", "id_number", "mobile", "currency"}
)

#: (record_id, leaf hash, canonical bytes) of an accepted row, or its [(field, reason), ...].
SlowAnswer = tuple[str, bytes, bytes] | list[tuple[str, str]]
Slow = Callable[[int, str], SlowAnswer]
#: What Plan.process returns: the columns of Results.to_wire, then native count and rest.
Processed = tuple[
    bytes, list[str], bytes, bytes, bytes, list[tuple[int, str, str]], int, int, str | None
]


def available() -> bool:
    """True when the extension is built and describes the schema this code has."""
    return _speedups is not None and describe(FIELDS) == _speedups.SCHEMA


def describe(fields: tuple[FieldSpec, ...]) -> tuple[tuple[str, str, bool, bool, str], ...]:
    """The schema in the form ``_speedups.SCHEMA`` has: (name, kind, required, personal, detail)."""
    return tuple(
        (f.name, f.kind, f.required, f.personal, " ".join(sorted(f.choices)) or f.pattern)
        for f in fields
    )


class FastCsv:
    """One header and one desensitiser compiled for ``_speedups``."""

    def __init__(self, plan: _speedups_t.Plan) -> None:
        self._plan = plan

    @classmethod
    def build(cls, header: list[str], desensitiser: Desensitiser) -> FastCsv | None:
        """The compiled plan, or None when this header or policy needs the Python path."""
        if _speedups is None or not available() or len(set(header)) != len(header):
            return None
        slots = _slots(desensitiser)
        if slots is None:
            return None
        key_ids = desensitiser.key_ids
        try:
            plan = _speedups.Plan(
                header=tuple(header),
                slots=tuple(slots),
                key_ids_json=canonical_bytes(dict(key_ids)) if key_ids else None,
                key_id_texts=tuple(key_ids.values()),
                currencies=tuple(sorted(CURRENCIES)),
                today=datetime.date.today().isoformat(),
                facts=resident_id_facts,
            )
        except ValueError:  # e.g. a required column missing: the Python path names it
            return None
        return cls(plan)

    def process(self, text: str, slow: Slow, *, seed: bytes | None = None) -> Processed:
        """Run the rows of ``text`` (no header line); ``seed`` makes salts reproducible (tests).

        Raises UnicodeEncodeError when the text holds bytes that were not UTF-8
        (lone surrogates): the caller takes the Python path for it.
        """
        if seed is not None:
            return self._plan.process(text, slow, seed=seed)
        salts = os.urandom(SALT_BYTES * (text.count("\n") + 1))
        return self._plan.process(text, slow, salts=salts)


_Slot = tuple[str, str, str | None, str | None, bytes | None, bytes | None, str | None]


def _slots(desensitiser: Desensitiser) -> list[_Slot] | None:
    """The output fields sorted as RFC 8785 sorts keys, or None if C cannot write them."""
    outputs = desensitiser.outputs()
    names = [o.name for o in outputs]
    if len(set(names)) != len(names) or {SALT_OUTPUT, KEY_IDS_OUTPUT} & set(names):
        return None
    slots: list[_Slot] = []
    for o in outputs:
        spec = FIELDS_BY_NAME[o.field]
        if o.kind != "keep" and spec.kind not in _TEXT_KINDS:
            return None
        if o.context is not None and not FIELDS_BY_NAME[o.context].required:
            return None
        slots.append((o.name, o.kind, o.field, o.style, o.secret, o.label, o.context))
    record_id = [o for o in outputs if o.name == RECORD_ID_OUTPUT]
    if len(record_id) != 1 or record_id[0].kind != "keep":
        return None
    if not FIELDS_BY_NAME[record_id[0].field].required:
        return None
    if desensitiser.key_ids:
        slots.append((KEY_IDS_OUTPUT, "key_ids", None, None, None, None, None))
    slots.append((SALT_OUTPUT, "salt", None, None, None, None, None))
    # RFC 8785 sorts by UTF-16 code units; output names are ASCII, so str order is that order.
    return sorted(slots, key=lambda slot: slot[0])
