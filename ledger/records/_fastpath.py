"""A fast path for valid CSV rows: per column, a memo of the values already seen valid.

Real portfolios repeat most values: dates, periods, org codes, enums, amounts
such as ``"0.00"``, counts. For those columns a row costs one dictionary look-up
per cell, all made in C (``map(operator.call, ...)``): the memo maps the cell as
written to the value :func:`~ledger.records.validate.validate_record` makes of
it. Columns of personal or one-off values (ID numbers, names, account and
report ids, consent ids) are never memoised: their check runs per cell, and the
raw value is not kept after the row.

:meth:`CsvFastPath.validate` returns the normalised record only when every
cell was fine and the cross-field rules found nothing; any doubt (a new value
that fails its check, a missing or blank required cell, an unknown column with
a value, a broken rule) returns None, and the caller runs the full
:func:`~ledger.records.validate.validate_record`, which names every problem.
So rejections, their reasons and their order never come from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from operator import call
from typing import Final

from ledger.records._checks import Bad
from ledger.records._rules import check_rules
from ledger.records.readers import csv_value
from ledger.records.schema import DEFAULT_CURRENCY, FIELDS_BY_NAME, PERSONAL_FIELDS
from ledger.records.validate import CHECKS, REQUIRED

#: Distinct values kept per column; beyond this a column's new values are checked
#: each time (amounts can be many; dates, codes and enums are few).
MEMO_SIZE: Final = 1 << 14
#: Columns whose values identify a person or occur once: checked, never memoised.
UNMEMOISED: Final = PERSONAL_FIELDS | {"report_id", "consent_ids", "funders"}

_ABSENT: Final = object()  # an empty cell of an optional column
_NO_FAILURES: Final[frozenset[str]] = frozenset()
_Getter = Callable[[str], object]

# Per field: cell as written -> validated value. Shared by every header, and
# only ever holds values of non-personal fields that passed their check.
_MEMOS: dict[str, dict[str, object]] = {}


class CsvFastPath:
    """Validates the cells of CSV rows that all share one header."""

    def __init__(self, header: Sequence[str]) -> None:
        self.names = tuple(header)
        self.usable = REQUIRED.issubset(header) and len(set(header)) == len(header)
        self._getters = tuple(_getter(name) for name in header)
        self._resolvers = tuple(_resolver(name) for name in header)

    def validate(self, cells: list[str]) -> dict[str, object] | None:
        """The normalised record of a row, or None when only the full validation can tell."""
        if not self.usable or len(cells) != len(self.names):
            return None
        values = list(map(call, self._getters, cells))
        if None in values:
            for position, value in enumerate(values):
                if value is None:
                    value = self._resolvers[position](cells[position])
                    if value is None:
                        return None
                    values[position] = value
        record = {name: v for name, v in zip(self.names, values, strict=True) if v is not _ABSENT}
        if "currency" not in record:
            record["currency"] = DEFAULT_CURRENCY
        if check_rules(record, _NO_FAILURES):
            return None
        return record


def _getter(name: str) -> _Getter:
    """Cell -> validated value, or None for "not known to be valid"."""
    spec = FIELDS_BY_NAME.get(name)
    if spec is None:  # a column the schema does not know: only an empty cell is fine
        return {"": _ABSENT}.get
    if name in UNMEMOISED:
        return _checked(name, optional=not spec.required)
    memo = _MEMOS.setdefault(name, {})
    if not spec.required:
        memo[""] = _ABSENT
    return memo.get


def _resolver(name: str) -> _Getter:
    """For a cell its getter did not know: check it, and remember it if it is valid."""
    spec = FIELDS_BY_NAME.get(name)
    if spec is None or name in UNMEMOISED:
        return lambda _cell: None  # the getter already ran the check
    check, memo = CHECKS[name], _MEMOS[name]

    def resolve(cell: str) -> object:
        if not cell or cell.isspace():
            return None  # absent: the full validation says whether that is allowed
        try:
            value = check(csv_value(name, cell))
        except Bad:
            return None
        if len(memo) < MEMO_SIZE:
            memo[cell] = value
        return value

    return resolve


def _checked(name: str, *, optional: bool) -> _Getter:
    check = CHECKS[name]
    empty = _ABSENT if optional else None
    spec = FIELDS_BY_NAME[name]
    if spec.kind in ("code", "text"):  # the check's own first step, without two calls
        match = re.compile(spec.pattern).fullmatch

        def matching(cell: str) -> object:
            if match(cell):
                return cell
            return empty if not cell else None

        return matching

    def get(cell: str) -> object:
        if not cell:
            return empty
        if cell.isspace():
            return None
        try:
            return check(csv_value(name, cell))
        except Bad:
            return None

    return get
