"""RFC 8785 text of each row of a polars frame, written by polars' own JSON writer.

Rows are objects of strings, integers, lists and objects of those, so
``struct.json_encode`` writes their RFC 8785 text, given two things JCS asks
for: members in key order (member names here are ASCII, so code-point order is
JCS's UTF-16 order; nested struct fields are ordered the same way) and absent
members left out rather than written as null. Top-level members that are null
in a row are absent from it: rows are grouped by which members they have, and
each group is written with just those. A null inside a nested object is
written as ``null``. polars escapes strings as JCS does (``\\"``, ``\\\\``,
``\\b \\t \\n \\f \\r``, other control characters as lower-case ``\\u00xx``,
everything else raw UTF-8).

Records at ingest (:mod:`ledger.ingest.canonical`) and alert bodies
(:mod:`ledger.alerts.outbox`) are written here; the property tests in
``tests/ingest/test_canonical.py`` and ``tests/alerts/test_bodies.py`` hold
every row to the ``rfc8785`` package and to :func:`ledger.proofs.canonical_records`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl
from polars._typing import PolarsDataType

_ORDER: Final = "order:"
_PRESENT: Final = "present:"


def _sorted_type(dtype: PolarsDataType) -> PolarsDataType:
    """``dtype`` with every struct's fields in key order."""
    if isinstance(dtype, pl.List):
        return pl.List(_sorted_type(dtype.inner))
    if isinstance(dtype, pl.Struct):
        fields = sorted(dtype.fields, key=lambda f: f.name.encode("utf-16-be"))
        return pl.Struct([pl.Field(f.name, _sorted_type(f.dtype)) for f in fields])
    return dtype


def _sorted_value(value: object) -> object:
    """``value`` with every object's members in key order (a literal's struct fields follow)."""
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda item: str(item[0]).encode("utf-16-be"))
        return {key: _sorted_value(item) for key, item in items}
    if isinstance(value, list):
        return [_sorted_value(item) for item in value]
    return value


def jcs_texts(frame: pl.DataFrame, constants: Mapping[str, object], name: str) -> pl.Series:
    """Each row of ``frame`` as RFC 8785 text (a String series called ``name``), in row order.

    ``constants`` are members every row has with the same value.
    """
    if not frame.height:
        return pl.Series(name, [], dtype=pl.String)
    schema = {column: _sorted_type(dtype) for column, dtype in frame.schema.items()}
    # The cast only reorders struct fields (same names, same types), which polars
    # 2.2 matches by name only when not strict; no value can fail to cast here.
    full = frame.cast(schema, strict=False).with_columns(  # type: ignore[arg-type]
        *(pl.lit(_sorted_value(value)).alias(key) for key, value in constants.items()),
        pl.int_range(pl.len()).alias(_ORDER),
    )
    names = sorted([*schema, *constants], key=lambda key: key.encode("utf-16-be"))
    optional = [column for column in schema if frame.get_column(column).has_nulls()]
    if not optional:  # every row has every member: one writer call
        return full.select(pl.struct(names).struct.json_encode().alias(name)).to_series()
    marked = full.with_columns(
        pl.concat_str(
            [pl.col(column).is_not_null().cast(pl.UInt8).cast(pl.String) for column in optional]
        ).alias(_PRESENT)
    )
    parts = []
    for (present,), group in marked.group_by(_PRESENT):
        shown = [
            key for key in names if key not in optional or str(present)[optional.index(key)] == "1"
        ]
        parts.append(
            group.select(pl.col(_ORDER), pl.struct(shown).struct.json_encode().alias(name))
        )
    return pl.concat(parts).sort(_ORDER).get_column(name)
