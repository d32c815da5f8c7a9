"""Apply a policy to validated records, column by column: the policy becomes polars expressions.

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

Pseudonyms are made once per distinct HMAC input (borrowers and accounts repeat
across rows), with :func:`hmac.digest`, and joined back onto the rows.

Every output record carries ``pseudonym_key_ids`` ({key name: key id}) so a
record says which key generation made its pseudonyms; the same map is
:attr:`Desensitiser.key_ids` for the batch manifest.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import polars as pl

from ledger.errors import InputError
from ledger.privacy.keys import Keyring
from ledger.privacy.masks import mask_expr
from ledger.privacy.policy import KEY_IDS_OUTPUT, Action, Policy
from ledger.records.frame import ROW, TYPES
from ledger.records.schema import DEFAULT_VERSION, ID_TYPE_RESIDENT, VERSION_FIELD

Record = Mapping[str, object]

#: HMAC domain label and the field whose value goes before the pseudonymised one.
HMAC_INPUTS: Final[Mapping[str, tuple[str, str]]] = {
    "subject_id_number": ("subject_id", "subject_id_type"),
    "account_id": ("account_id", "reporter_org_code"),
}
AGE_BANDS: Final = (*(f"{a // 10 * 10}-{a // 10 * 10 + 9}" for a in range(80)), "80+")
_MESSAGE: Final = "message"


class Pseudonym:
    """One ``hmac`` action: ``"0x"`` + HMAC-SHA256 hex of its domain-separated input."""

    def __init__(self, action: Action, keyring: Keyring) -> None:
        self.field = action.field
        self.output = str(action.output)
        label, self.context = HMAC_INPUTS.get(action.field, (action.field, ""))
        self._prefix = label.encode() + b":"
        self._secret = keyring.key(str(action.key)).secret

    def message(self) -> pl.Expr:
        """The HMAC input after the label, per row: ``context:value`` (or ``value``)."""
        value = pl.col(self.field)
        if not self.context:
            return value
        return pl.concat_str(pl.col(self.context), pl.lit(":"), value)

    def of_message(self, message: str) -> str:
        mac = hmac.digest(self._secret, self._prefix + message.encode(), "sha256")
        return "0x" + mac.hex()

    def of_record(self, record: Record) -> str:
        value = record[self.field]
        return self.of_message(f"{record[self.context]}:{value}" if self.context else str(value))

    def column(self, frame: pl.DataFrame) -> pl.Series:
        """Every row's pseudonym (null where the field is absent), one HMAC per distinct input."""
        messages = frame.select(self.message().alias(_MESSAGE)).get_column(_MESSAGE)
        distinct = messages.drop_nulls().unique(maintain_order=True)
        made = pl.Series(self.output, [self.of_message(m) for m in distinct.to_list()], pl.String)
        if len(distinct) == len(messages):  # every row its own account: no join needed
            return made
        table = pl.DataFrame([distinct.alias(_MESSAGE), made])
        joined = messages.to_frame().join(table, on=_MESSAGE, how="left", maintain_order="left")
        return joined.get_column(self.output)


class Desensitiser:
    """Turns validated records (a frame of :data:`~ledger.records.frame.TYPES`) into the
    output records the policy describes."""

    def __init__(self, policy: Policy, keyring: Keyring) -> None:
        self.policy = policy
        self.keyring = keyring
        self.key_ids: dict[str, str] = {n: keyring.key(n).key_id for n in sorted(policy.key_names)}
        self._pseudonyms = {
            str(a.output): Pseudonym(a, keyring) for a in policy.actions if a.kind == "hmac"
        }
        self._exprs = [_expression(a) for a in policy.actions if a.kind not in ("drop", "hmac")]

    @property
    def outputs(self) -> tuple[str, ...]:
        """The output columns :meth:`frame` makes (``pseudonym_key_ids`` is not a column)."""
        return tuple(name for name in self.policy.outputs if name != KEY_IDS_OUTPUT)

    def frame(self, validated: pl.DataFrame) -> pl.DataFrame:
        """The output columns of every row (and ``row``); absent values are null."""
        out = validated.select(pl.col(ROW), *self._exprs)
        pseudonyms = [p.column(validated) for p in self._pseudonyms.values()]
        return out.with_columns(pseudonyms).select(ROW, *self.outputs)

    def apply(self, record: Record) -> dict[str, object]:
        """One validated record's output (the same expressions, on a frame of one row)."""
        if unknown := set(record) - set(TYPES):
            raise InputError(
                f"record has {len(unknown)} field(s) the schema does not know: validate it first"
            )
        version = record.get(VERSION_FIELD, DEFAULT_VERSION)
        if not isinstance(version, int) or version > self.policy.schema_version:
            raise InputError(
                f"the policy covers schema_version {self.policy.schema_version} at most"
            )
        for pseudonym in self._pseudonyms.values():
            if pseudonym.field in record and pseudonym.context and pseudonym.context not in record:
                raise InputError(f"record lacks the field {pseudonym.context!r}: validate it first")
        frame = pl.DataFrame(
            {ROW: [0], **{name: [record.get(name)] for name in TYPES}},
            schema={ROW: pl.Int64, **TYPES},
        )
        row = self.frame(frame).drop(ROW).row(0, named=True)
        out: dict[str, object] = {name: value for name, value in row.items() if value is not None}
        if self.key_ids:
            out[KEY_IDS_OUTPUT] = dict(self.key_ids)
        return out

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
            return make.of_record(record)
        except KeyError as missing:
            raise InputError(f"{output} needs the field {missing}") from None


def default_desensitiser(data_dir: Path) -> Desensitiser:
    """The default policy's desensitiser: its ``subject_pseudonym`` names a borrower."""
    policy = Policy.load(None)
    return Desensitiser(policy, Keyring.load_or_create(data_dir, sorted(policy.key_names)))


def _expression(a: Action) -> pl.Expr:
    value, output = pl.col(a.field), str(a.output)
    if a.kind == "mask":
        return mask_expr(str(a.style), value).alias(output)
    if a.kind == "generalise" and a.style == "month":
        return value.str.slice(0, 7).alias(output)
    if a.kind == "generalise":
        resident = pl.col("subject_id_type") == ID_TYPE_RESIDENT
        made = _age_band(value) if a.style == "age_band" else value.str.slice(0, 2)
        return pl.when(resident).then(made).otherwise(None).alias(output)
    return value.alias(output)  # keep, under its own name or another


def _age_band(number: pl.Expr) -> pl.Expr:
    """Age in full years at report_date from the ID's YYYYMMDD birth date, in decades."""
    reported = pl.col("report_date")
    month_day = pl.concat_str(reported.str.slice(5, 2), reported.str.slice(8, 2))
    # Not strict: the caller keeps the band for resident ID numbers only (18 validated
    # characters, digits where read here), and an error about any other number would
    # quote part of it.
    age = (
        reported.str.slice(0, 4).cast(pl.Int64, strict=False)
        - number.str.slice(6, 4).cast(pl.Int64, strict=False)
        - (month_day < number.str.slice(10, 4)).cast(pl.Int64)
    )
    decade = (age.clip(0, 80) // 10) * 10
    band = pl.concat_str(decade.cast(pl.String), pl.lit("-"), (decade + 9).cast(pl.String))
    return pl.when(decade >= 80).then(pl.lit("80+")).otherwise(band)
