"""Apply a policy to validated records: the policy is compiled once into small closures.

Pseudonyms are ``"0x"`` + hex HMAC-SHA256 under a named key from the keyring
(DESIGN, privacy invariant 2: never a bare hash of a low-entropy identifier).
The HMAC input is domain-separated: a label, then the values joined by ``:``::

    subject_id_number -> b"subject_id:" + id type + b":" + ID number
    account_id        -> b"account_id:" + reporter org code + b":" + account id
    any other field   -> field name + b":" + value

so the same number under another ID type, or the same account id at another
lender, gives another pseudonym. Generalisations: ``age_band`` is the age at
``report_date`` in decades (``"30-39"``, capped at ``"80+"``); ``province`` is the
2-digit province code of the ID; both exist only for resident IDs (type 10) and
are omitted otherwise. ``month`` turns a date into ``YYYY-MM``.

Every output record carries ``pseudonym_key_ids`` ({key name: key id}) so a
record says which key generation made its pseudonyms; the same map is
:attr:`Desensitiser.key_ids` for the batch manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from ledger.errors import InputError
from ledger.privacy.keys import Keyring
from ledger.privacy.masks import MASKS
from ledger.privacy.policy import KEY_IDS_OUTPUT, Action, Policy
from ledger.records.schema import FIELD_NAMES, ID_TYPE_RESIDENT

Record = Mapping[str, object]
Step = Callable[[Record, dict[str, object]], None]

#: HMAC domain label and the field whose value goes before the pseudonymised one.
HMAC_INPUTS: Final[Mapping[str, tuple[str, str]]] = {
    "subject_id_number": ("subject_id", "subject_id_type"),
    "account_id": ("account_id", "reporter_org_code"),
}
PSEUDONYM_CACHE_SIZE: Final = 1 << 16  # per output; ~15 MB at most, then it starts over
AGE_BANDS: Final = (*(f"{a // 10 * 10}-{a // 10 * 10 + 9}" for a in range(80)), "80+")


@dataclass(frozen=True)
class Output:
    """One output field of the policy, as a compiled (C) desensitiser needs it.

    ``kind`` is ``keep``, ``mask`` (``style``), ``hmac`` (``secret``, ``label``
    and the ``context`` field, see :data:`HMAC_INPUTS`), ``age_band``,
    ``province`` or ``month``; ``field`` is the input it is made from.
    """

    name: str
    kind: str
    field: str
    style: str | None = None
    secret: bytes | None = dataclasses.field(default=None, repr=False)
    label: bytes | None = None
    context: str | None = None


class Desensitiser:
    """Turns a validated record into the output record the policy describes."""

    def __init__(self, policy: Policy, keyring: Keyring) -> None:
        self.policy = policy
        self._keyring = keyring
        self.key_ids: dict[str, str] = {n: keyring.key(n).key_id for n in sorted(policy.key_names)}
        self._inputs = frozenset(FIELD_NAMES)
        kept_as_is = {a.field for a in policy.actions if a.kind == "keep" and a.output == a.field}
        self._removed = tuple(name for name in FIELD_NAMES if name not in kept_as_is)
        self._steps = tuple(_step(a, keyring) for a in policy.actions if _needs_step(a))
        hmacs = [a for a in policy.actions if a.kind == "hmac" and a.output]
        self._pseudonyms = {str(a.output): _pseudonym(a, keyring) for a in hmacs}

    def apply(self, record: Record) -> dict[str, object]:
        """The output record: only the policy's output fields, plus ``pseudonym_key_ids``."""
        if not self._inputs.issuperset(record):
            raise InputError("record has fields the schema does not know: validate it first")
        out = dict(record)
        for name in self._removed:
            out.pop(name, None)
        try:
            for step in self._steps:
                step(record, out)
        except KeyError as missing:  # a pseudonym's context field (validation requires it)
            raise InputError(f"record lacks the field {missing}: validate it first") from None
        if self.key_ids:
            out[KEY_IDS_OUTPUT] = dict(self.key_ids)
        return out

    def outputs(self) -> list[Output]:
        """Every output field :meth:`apply` can write, except ``pseudonym_key_ids``."""
        found = [Output(name, "keep", name) for name in FIELD_NAMES if name not in self._removed]
        for a in self.policy.actions:
            if not _needs_step(a):
                continue
            name, kind = str(a.output), a.kind
            if kind == "hmac":
                label, context = HMAC_INPUTS.get(a.field, (a.field, ""))
                secret = self._keyring.key(str(a.key)).secret
                found.append(
                    Output(name, kind, a.field, secret=secret, label=label.encode() + b":",
                           context=context or None)
                )  # fmt: skip
            elif kind == "generalise":
                found.append(Output(name, str(a.style), a.field))
            else:
                found.append(Output(name, kind, a.field, style=a.style))
        return found

    def pseudonym(self, output: str, record: Record) -> str:
        """One pseudonym output (e.g. ``subject_pseudonym``) from the fields it is made of.

        For look-ups (consent checks, erasure): ``record`` needs only those fields,
        e.g. ``{"subject_id_type": "10", "subject_id_number": "..."}``.
        """
        try:
            make = self._pseudonyms[output]
        except KeyError:
            raise InputError(f"the policy has no pseudonym output {output!r}") from None
        try:
            return make(record)
        except KeyError as missing:
            raise InputError(f"{output} needs the field {missing}") from None


def default_desensitiser(data_dir: Path) -> Desensitiser:
    """The default policy's desensitiser: its ``subject_pseudonym`` names a borrower."""
    policy = Policy.load(None)
    return Desensitiser(policy, Keyring.load_or_create(data_dir, sorted(policy.key_names)))


def _needs_step(a: Action) -> bool:
    return a.kind != "drop" and not (a.kind == "keep" and a.output == a.field)


def _pseudonym(a: Action, keyring: Keyring) -> Callable[[Record], str]:
    label, context = HMAC_INPUTS.get(a.field, (a.field, ""))
    base = hmac.new(keyring.key(str(a.key)).secret, digestmod=hashlib.sha256)
    base.update(label.encode() + b":")
    field = a.field
    cache: dict[str, str] = {}  # borrowers and accounts repeat across rows and months

    def make(record: Record) -> str:
        message = f"{record[context]}:{record[field]}" if context else str(record[field])
        if (known := cache.get(message)) is not None:
            return known
        mac = base.copy()
        mac.update(message.encode())
        if len(cache) >= PSEUDONYM_CACHE_SIZE:
            cache.clear()
        pseudonym = cache[message] = "0x" + mac.hexdigest()
        return pseudonym

    return make


def _step(a: Action, keyring: Keyring) -> Step:
    field, output = a.field, str(a.output)
    if a.kind == "hmac":
        make = _pseudonym(a, keyring)

        def step(record: Record, out: dict[str, object]) -> None:
            if field in record:
                out[output] = make(record)

        return step
    if a.kind == "mask":
        return _transform(field, output, MASKS[str(a.style)])
    if a.kind == "generalise" and a.style == "month":
        return _transform(field, output, lambda value: value[:7])
    if a.kind == "generalise":
        return _from_resident_id(field, output, _age_band if a.style == "age_band" else _province)
    return _transform(field, output, lambda value: value)  # keep under another name


def _transform(field: str, output: str, fn: Callable[[str], object]) -> Step:
    def step(record: Record, out: dict[str, object]) -> None:
        value = record.get(field)
        if value is not None:
            out[output] = fn(value) if isinstance(value, str) else value

    return step


def _from_resident_id(field: str, output: str, fn: Callable[[str, str], str]) -> Step:
    def step(record: Record, out: dict[str, object]) -> None:
        number = record.get(field)
        if isinstance(number, str) and record.get("subject_id_type") == ID_TYPE_RESIDENT:
            out[output] = fn(number, str(record["report_date"]))

    return step


def _age_band(number: str, reported: str) -> str:
    """Age in full years at ``reported`` (ISO date) from the ID's YYYYMMDD birth date."""
    year, month_day = _report_day(reported)
    age = year - int(number[6:10]) - (month_day < number[10:14])
    return AGE_BANDS[min(max(age, 0), 80)]


@lru_cache(maxsize=4096)
def _report_day(reported: str) -> tuple[int, str]:
    """(year, "MMDD") of an ISO date: report dates are few, borrowers many."""
    return int(reported[:4]), reported[5:7] + reported[8:10]


def _province(number: str, reported: str) -> str:
    return number[:2]
