"""Stage 3b, leak guard: refuse output rows that still carry personal data.

The rules are :mod:`ledger.privacy.leakguard`'s: which stand-alone digit runs
are resident ID, mobile or card numbers (:func:`~ledger.privacy.leakguard.classify`),
and that none of the row's own personal inputs appears in its output. Here they
run on whole columns: the runs of every row are found with one regex, each
*distinct* run is classified once (org codes and amounts repeat), and each
personal value is looked for in its own row's output text. Only a row found
leaking is handled as a row: :class:`~ledger.privacy.LeakGuard` names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl
from polars._typing import PolarsDataType

from ledger.errors import LedgerError
from ledger.ingest.results import Refused
from ledger.privacy import LeakDetected, LeakGuard
from ledger.privacy.leakguard import (
    MIN_ASCII_CANARY_LENGTH,
    MIN_CANARY_LENGTH,
    MIN_RUN,
    classify,
)
from ledger.records.frame import ROW
from ledger.records.schema import FIELD_NAMES, PERSONAL_FIELDS

_SEP: Final = "\x00"
_TEXT: Final = "text"
_SUSPECT: Final = "suspect"
#: A run of digits (an X may end it) after a boundary, and the character after it if that is a
#: letter or digit; the run stands alone when there is none (:data:`_ALONE` keeps those).
#: Matching never takes the boundary after a run, so it stays the boundary before the next.
_RUN: Final = rf"(?:^|[^0-9A-Za-z])[0-9]{{{MIN_RUN},}}[Xx]?[0-9A-Za-z]?"
_ALONE: Final = rf"([0-9]{{{MIN_RUN},}}[Xx]?)$"
_PERSONAL: Final = tuple(name for name in FIELD_NAMES if name in PERSONAL_FIELDS)
_CANARY: Final = "canary:"


class GuardDisagreementError(LedgerError):
    """A row found leaking that the guard itself lets through: a bug, never data."""

    code = "internal-error"


def _text(expr: pl.Expr, dtype: PolarsDataType) -> pl.Expr:
    """Every string and number inside a column's values, NUL-joined."""
    if dtype == pl.String:
        return expr
    if isinstance(dtype, pl.List):
        return expr.list.eval(_text(pl.element(), dtype.inner)).list.join(_SEP)
    if isinstance(dtype, pl.Struct):
        parts = [_text(expr.struct.field(f.name), f.dtype) for f in dtype.fields]
        return pl.concat_str(parts, separator=_SEP, ignore_nulls=True)
    return expr.cast(pl.String)


def guard(
    output: pl.DataFrame, validated: pl.DataFrame, constants: Mapping[str, object]
) -> tuple[pl.DataFrame, list[Refused]]:
    """The output rows the guard lets through, and a refusal for each other one.

    ``validated`` holds the same rows before desensitisation (for their personal
    values); ``constants`` are the members every output record has (key ids).
    """
    columns = [name for name in output.columns if name != ROW]
    constant_text = _SEP.join(_flatten(constants))
    texts = [_text(pl.col(name), output.schema[name]) for name in columns]
    if constant_text:
        texts.append(pl.lit(constant_text))
    personal = [name for name in _PERSONAL if name in validated.columns]
    probe = output.with_columns(
        pl.concat_str(texts, separator=_SEP, ignore_nulls=True).alias(_TEXT),
        *(validated.get_column(name).alias(_CANARY + name) for name in personal),
    )
    text = pl.col(_TEXT)
    suspect = _personal_numbers(probe.get_column(_TEXT))
    for name in personal:
        value = pl.col(_CANARY + name)
        shortest = (
            pl.when(value.str.contains(r"^[\x00-\x7f]*$"))
            .then(MIN_ASCII_CANARY_LENGTH)
            .otherwise(MIN_CANARY_LENGTH)
        )
        suspect |= (
            (value.str.len_chars() >= shortest) & text.str.contains(value, literal=True)
        ).fill_null(False)
    flags = probe.select(suspect.fill_null(False).alias(_SUSPECT)).get_column(_SUSPECT)
    if not flags.any():
        return output, []
    refused: list[Refused] = []
    guard = LeakGuard()
    for row in probe.filter(flags).iter_rows(named=True):
        record = {name: row[name] for name in columns if row[name] is not None}
        record.update(constants)
        inputs = [row[_CANARY + name] for name in personal if row[_CANARY + name] is not None]
        try:
            guard.check(record, inputs)
        except LeakDetected as exc:
            reason = f"leak guard: output has a {exc.kind}"
            refused.append(Refused(row[ROW], exc.field, reason))
        else:
            raise GuardDisagreementError(f"row {row[ROW]}: leaks, but the guard names nothing")
    dropped = pl.Series([r.row_number for r in refused])
    return output.filter(~pl.col(ROW).is_in(dropped.implode())), refused


def _personal_numbers(texts: pl.Series) -> pl.Expr:
    """Per row: does its text hold a stand-alone run :func:`classify` calls a personal number?"""
    runs = pl.col(_TEXT).str.extract_all(_RUN).list.eval(pl.element().str.extract(_ALONE, 1))
    distinct = texts.to_frame().select(runs.explode().drop_nulls().unique()).to_series()
    numbers = [run for run in distinct.to_list() if classify(run) is not None]
    if not numbers:
        return pl.lit(False)
    return runs.list.eval(pl.element().is_in(numbers)).list.any()


def _flatten(value: object) -> list[str]:
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _flatten(item)]
    return [str(value)]
