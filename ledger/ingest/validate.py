"""Stage 2, validate: a chunk's rows become validated columns, and refused rows their reasons.

Field checks are the per-value functions of :mod:`ledger.records` (one per field
kind). A CSV column is checked once per *distinct* cell: dates, codes, amounts
and org codes repeat across rows, so a chunk of thousands of rows costs a few
hundred checks, and the results are joined back onto the rows. JSON rows keep
their JSON types, so each is checked as a record (:func:`~ledger.records.validate.check_fields`).
Both give the same validated columns (:data:`~ledger.records.frame.CHECKED`),
on which the cross-field rules (:mod:`ledger.records.rules`) run for the whole
chunk at once.

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
from ledger.records._checks import Bad, normal_form
from ledger.records.frame import CHECKED, ROW, TYPES, records_frame
from ledger.records.readers import RawRow, csv_row, csv_value
from ledger.records.rules import FAILED, RULES, broken_rules
from ledger.records.schema import DEFAULT_CURRENCY, FIELDS_BY_NAME
from ledger.records.validate import CHECKS, REQUIRED, Problem, check_fields, in_order

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


def _checked_cells(cells: pl.DataFrame) -> pl.DataFrame:
    """The validated columns of CSV cells, each column checked once per distinct cell."""
    columns: list[pl.Series] = [cells.get_column(ROW)]
    refused = pl.Series(_REFUSED, [False] * cells.height)
    header = [name for name in cells.columns if name != ROW]
    for name in header:
        value, bad = _checked_column(name, cells.get_column(name))
        if name not in FIELDS_BY_NAME:  # an unknown column: any value refuses the row
            refused = refused | value.is_not_null()
            continue
        refused = refused | bad
        if name in REQUIRED:
            refused = refused | value.is_null()
        columns += [value.alias(name), bad.alias(FAILED + name)]
    frame = pl.DataFrame(columns).with_columns(refused.alias(_REFUSED))
    missing = [name for name in TYPES if name not in header]
    if REQUIRED.intersection(missing):
        frame = frame.with_columns(pl.lit(True).alias(_REFUSED))
    frame = frame.with_columns(
        *(pl.lit(None, dtype=TYPES[name]).alias(name) for name in missing),
        *(pl.lit(False).alias(FAILED + name) for name in missing),
    )
    if "currency" in TYPES:
        frame = frame.with_columns(pl.col("currency").fill_null(pl.lit(DEFAULT_CURRENCY)))
    return frame.select(*CHECKED, _REFUSED).cast(dict(CHECKED))  # type: ignore[arg-type]


def _checked_column(name: str, column: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(validated value or null, failed its check) per cell; blank cells are absent.

    Cells already in their field's normal form (:func:`~ledger.records._checks.normal_form`)
    are their own validated value; every other distinct cell goes through the check.
    List values (funders, consent ids) travel as their JSON text into polars, which
    decodes them to the column type: far faster than building nested values one by one.
    """
    spec = FIELDS_BY_NAME.get(name)
    check = CHECKS.get(name)
    dtype = TYPES[name] if spec is not None else pl.String()
    nested = isinstance(dtype, pl.List)
    normal = _NORMAL.get(name)
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
    listed = spec is not None and spec.kind in ("funders", "id_list")
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


_NORMAL: Final = {spec.name: normal_form(spec) for spec in FIELDS_BY_NAME.values()}
