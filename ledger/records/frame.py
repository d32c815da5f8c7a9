"""Validated records as columns: one polars column per schema field, typed by its kind.

Absent fields (and, before a row is refused, fields that failed their check)
are null. Strings stay strings (dates, amounts, codes); ``int`` fields are
Int64; ``funders`` is a list of ``{org_code, share_bp}`` structs and
``consent_ids`` a list of strings, as :func:`~ledger.records.validate_record`
makes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import polars as pl

from ledger.records.rules import FAILED
from ledger.records.schema import FIELDS, Kind

FUNDER: Final = pl.Struct({"org_code": pl.String, "share_bp": pl.Int64})
SPECIAL_TRANSACTION: Final = pl.Struct(
    {"type": pl.String, "date": pl.String, "amount": pl.String, "months": pl.Int64}
)
RELATED_PARTY: Final = pl.Struct({"role": pl.String, "kind": pl.String, "amount": pl.String})
_TYPES_BY_KIND: Final[Mapping[Kind, pl.DataType]] = {
    "int": pl.Int64(),
    "version": pl.Int64(),
    "funders": pl.List(FUNDER),
    "id_list": pl.List(pl.String),
    "special_transactions": pl.List(SPECIAL_TRANSACTION),
    "related_parties": pl.List(RELATED_PARTY),
}
#: The column type of each field.
TYPES: Final[Mapping[str, pl.DataType]] = {
    spec.name: _TYPES_BY_KIND.get(spec.kind, pl.String()) for spec in FIELDS
}
#: The type of every column of a checked frame: the fields, their ``failed:`` flags, the row.
ROW: Final = "row"
CHECKED: Final[Mapping[str, pl.DataType]] = {
    ROW: pl.Int64(),
    **TYPES,
    **{FAILED + name: pl.Boolean() for name in TYPES},
}


def records_frame(
    rows: Sequence[int] | range,
    records: Sequence[Mapping[str, object]],
    failed: Sequence[frozenset[str]],
) -> pl.DataFrame:
    """A checked frame from records validated one by one (``failed``: their failed fields)."""
    columns: dict[str, list[object]] = {
        name: [record.get(name) for record in records] for name in TYPES
    }
    for name in TYPES:
        columns[FAILED + name] = [name in bad for bad in failed]
    return pl.DataFrame({ROW: list(rows), **columns}, schema=CHECKED)
