"""Stage 2, validate: a chunk's rows become validated columns, and refused rows their reasons.

Field checks are the per-value functions of :mod:`ledger.records` (one per field
kind). A CSV column is checked once per *distinct* cell: dates, codes, amounts
and org codes repeat across rows, so a chunk of thousands of rows costs a few
hundred checks, and the results are joined back onto the rows. JSON rows keep
their JSON types, so each is checked as a record (:func:`~ledger.records.validate.check_fields`).
Both give the same validated columns (:data:`~ledger.records.frame.CHECKED`),
on which the cross-field rules (:mod:`ledger.records.rules`) run for the whole
chunk at once.

A file may mix schema versions: CSV rows are split by their ``schema_version``
cell and each part is checked with its version's checks (a part of version 1
rows, the usual file, is the whole chunk).

Only a refused row is handled as a row: its problems are named by the same
checks, on that row's fields, and sorted as :func:`~ledger.records.validate_record`
sorts them. No value is kept in a reason.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import orjson
import polars as pl

from ledger.errors import LedgerError
from ledger.ingest.results import Refused
from ledger.records._checks import Bad, check_version, normal_form
from ledger.records.frame import CHECKED, ROW, TYPES, records_frame
from ledger.records.readers import RawRow, csv_row, csv_value
from ledger.records.rules import FAILED, RULES, broken_rules
from ledger.records.schema import (
    DEFAULT_CURRENCY,
    DEFAULT_VERSION,
    FIELDS_BY_NAME,
    SCHEMAS,
    VERSION_FIELD,
)
from ledger.records.validate import CHECKS_OF, REQUIRED_OF, Problem, check_fields, in_order

_REFUSED: Final = "refused"
_VALUE, _BAD = "value", "bad"


class ValidatorDisagreementError(LedgerError):
    """The column checks refused a row whose own checks found nothing: a bug, never data."""

    code = "internal-error"


class Validated(NamedTuple):
    """A chunk after validation: the accepted rows' columns, and the refused rows' problems."""

    frame: pl.DataFrame
    refused: list[Refused]


def validate(cells: pl.DataFrame | None, rows: list[RawRow]) -> Validated:
    """Validate a chunk: CSV ``cells`` (see :mod:`ledger.ingest.read`) and single ``rows``."""
    refused: list[Refused] = []
    parts: list[pl.DataFrame] = []
    own: dict[int, list[Problem]] = {}  # refused rows' own problems, by row
    if cells is not None and cells.height:
        parts.append(_checked_cells(cells))
    records, numbers, failed = [], [], []
    for row in rows:
        if row.fields is None:
            refused.append(Refused(row.row_number, "-", row.error or "unreadable row"))
            continue
        checked = check_fields(row.fields)
        if checked.problems:
            own[row.row_number] = checked.problems
        numbers.append(row.row_number)
        records.append(checked.record)
        failed.append(checked.failed)
    if records:
        frame = records_frame(numbers, records, failed)
        flagged = pl.Series(_REFUSED, [n in own for n in numbers])
        parts.append(frame.with_columns(flagged))
    if not parts:
        return Validated(pl.DataFrame(schema={ROW: pl.Int64, **TYPES}), _sorted(refused))
    frame = pl.concat(parts, how="vertical").sort(ROW)
    broken = broken_rules(frame)
    any_broken = pl.any_horizontal(pl.all().is_not_null())
    flags = broken.select(any_broken.alias("broken")).get_column("broken")
    frame = frame.with_columns((pl.col(_REFUSED) | flags).alias(_REFUSED))
    mask = frame.get_column(_REFUSED)
    if mask.any():
        bad_rows = frame.filter(mask).get_column(ROW).to_list()
        reasons = broken.filter(mask).rows()
        by_row = _own_problems(cells, set(bad_rows) - set(own)) | own
        for row, rule_reasons in zip(bad_rows, reasons, strict=True):
            problems = by_row[row] + [
                Problem(rule.field, reason)
                for rule, reason in zip(RULES, rule_reasons, strict=True)
                if reason is not None
            ]
            if not problems:
                raise ValidatorDisagreementError(f"row {row}: refused, but no check says why")
            refused.extend(Refused(row, p.field, p.reason) for p in in_order(problems))
    accepted = frame.filter(~mask).select(ROW, *TYPES)
    return Validated(accepted, _sorted(refused))


def _sorted(refused: list[Refused]) -> list[Refused]:
    return sorted(refused, key=lambda r: r.row_number)  # stable: a row's problems keep their order


def _own_problems(cells: pl.DataFrame | None, rows: set[int]) -> dict[int, list[Problem]]:
    """The field problems of CSV rows, by the per-record checks on each row's fields."""
    found: dict[int, list[Problem]] = {number: [] for number in rows}
    if cells is None or not rows:
        return found
    header = [name for name in cells.columns if name != ROW]
    picked = cells.filter(pl.col(ROW).is_in(sorted(rows)))
    for values in picked.iter_rows(named=True):
        number = values[ROW]
        row = csv_row(number, header, [values[name] or "" for name in header])
        assert row.fields is not None  # a well-formed row (the reader made it cells)
        found[number] = check_fields(row.fields).problems
    return found


_BAD_VERSION: Final = 0  # a schema_version cell naming no version: the row is refused


def _versions(cells: pl.DataFrame) -> pl.Series:
    """Each row's schema version (blank: version 1; a wrong value: ``_BAD_VERSION``)."""
    column = cells.get_column(VERSION_FIELD)
    distinct = column.drop_nulls().unique().to_list()
    found: list[int] = []
    for cell in distinct:
        try:
            found.append(DEFAULT_VERSION if cell.isspace() else check_version(cell))
        except Bad:
            found.append(_BAD_VERSION)
    table = pl.DataFrame(
        {VERSION_FIELD: distinct, _VALUE: found},
        schema={VERSION_FIELD: pl.String, _VALUE: pl.Int64},
    )
    joined = column.to_frame().join(table, on=VERSION_FIELD, how="left", maintain_order="left")
    return joined.get_column(_VALUE).fill_null(DEFAULT_VERSION)


def _checked_cells(cells: pl.DataFrame) -> pl.DataFrame:
    """The validated columns of CSV cells, each part of one schema version on its own."""
    if VERSION_FIELD not in cells.columns:
        return _checked_part(cells, DEFAULT_VERSION)
    versions = _versions(cells)
    parts = []
    for version in versions.unique().sort().to_list():
        part = cells.filter(versions == version).drop(VERSION_FIELD)
        checked = _checked_part(part, version if version in SCHEMAS else DEFAULT_VERSION)
        if version == _BAD_VERSION:  # no schema to check the rest against: as check_fields
            checked = checked.with_columns(
                pl.lit(True).alias(_REFUSED),
                *(pl.lit(None, dtype=dtype).alias(name) for name, dtype in TYPES.items()),
                *(pl.lit(True).alias(FAILED + name) for name in TYPES),
            )
        elif version != DEFAULT_VERSION:
            checked = checked.with_columns(pl.lit(version, dtype=pl.Int64).alias(VERSION_FIELD))
        parts.append(checked)
    return pl.concat(parts, how="vertical").sort(ROW)


def _checked_part(cells: pl.DataFrame, version: int) -> pl.DataFrame:
    """The validated columns of CSV cells of one schema version, each column checked
    once per distinct cell."""
    checks, required = CHECKS_OF[version], REQUIRED_OF[version]
    columns: list[pl.Series] = [cells.get_column(ROW)]
    refused = pl.Series(_REFUSED, [False] * cells.height)
    header = [name for name in cells.columns if name != ROW]
    for name in header:
        value, bad = _checked_column(name, cells.get_column(name), version)
        if name not in checks:  # an unknown column (or another version's): a value refuses
            refused = refused | value.is_not_null()
            continue
        refused = refused | bad
        if name in required:
            refused = refused | value.is_null()
        columns += [value.alias(name), bad.alias(FAILED + name)]
    frame = pl.DataFrame(columns).with_columns(refused.alias(_REFUSED))
    missing = [name for name in TYPES if name not in header or name not in checks]
    if required.intersection(missing):
        frame = frame.with_columns(pl.lit(True).alias(_REFUSED))
    frame = frame.with_columns(
        *(pl.lit(None, dtype=TYPES[name]).alias(name) for name in missing),
        *(pl.lit(False).alias(FAILED + name) for name in missing),
    )
    if "currency" in TYPES:
        frame = frame.with_columns(pl.col("currency").fill_null(pl.lit(DEFAULT_CURRENCY)))
    return frame.select(*CHECKED, _REFUSED).cast(dict(CHECKED))  # type: ignore[arg-type]


def _checked_column(name: str, column: pl.Series, version: int) -> tuple[pl.Series, pl.Series]:
    """(validated value or null, failed its check) per cell; blank cells are absent.

    Cells already in their field's normal form (:func:`~ledger.records._checks.normal_form`)
    are their own validated value; every other distinct cell goes through the check.
    List values (funders, consent ids) travel as their JSON text into polars, which
    decodes them to the column type: far faster than building nested values one by one.
    """
    check = CHECKS_OF[version].get(name)
    spec = FIELDS_BY_NAME.get(name) if check is not None else None
    dtype = TYPES[name] if spec is not None else pl.String()
    nested = isinstance(dtype, pl.List)
    normal = _NORMAL[version].get(name) if spec is not None else None
    if normal is None:
        done = pl.Series([False] * len(column)) if len(column) else pl.Series([], dtype=pl.Boolean)
    elif isinstance(normal, str):
        done = column.str.contains(rf"\A(?:{normal})\z").fill_null(False)
    else:
        done = column.is_in(sorted(normal)).fill_null(False)
    rest = column.filter(~done).drop_nulls().unique()
    if not len(rest):
        return column, pl.Series([False] * len(column), dtype=pl.Boolean)
    values: list[object] = []
    bad: list[bool] = []
    listed = spec is not None and isinstance(dtype, pl.List)
    for cell in rest.to_list():
        if cell.isspace():
            values.append(None)
            bad.append(False)
        elif check is None:  # unknown column: only that a value is there, never the value
            values.append("")
            bad.append(False)
        else:
            try:
                value = check(csv_value(name, cell) if listed else cell)
            except Bad:
                values.append(None)
                bad.append(True)
            else:
                values.append(orjson.dumps(value).decode() if nested else value)
                bad.append(False)
    table = pl.DataFrame(
        {name: rest, _VALUE: values, _BAD: bad},
        schema={name: pl.String, _VALUE: pl.String if nested else dtype, _BAD: pl.Boolean},
    )
    if nested:
        table = table.with_columns(pl.col(_VALUE).str.json_decode(dtype))
    joined = column.to_frame().join(table, on=name, how="left", maintain_order="left")
    value = joined.get_column(_VALUE)
    if normal is not None:
        value = pl.select(pl.when(done).then(column).otherwise(value)).to_series()
    return value, joined.get_column(_BAD).fill_null(False)


_NORMAL: Final = {
    version: {spec.name: normal_form(spec) for spec in fields}
    for version, fields in SCHEMAS.items()
}
