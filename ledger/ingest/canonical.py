"""Stage 4, canonicalise + leaf hash: each output row's RFC 8785 text and ``SHA-256(0x00 || text)``.

Output records are objects of strings, integers, lists and objects of those,
so polars' own JSON writer (``struct.json_encode``) writes their RFC 8785 text,
given two things JCS asks for: members in key order (output names are ASCII,
so code-point order is JCS's UTF-16 order; nested struct fields are ordered
the same way) and absent members left out rather than written as null. Rows
are grouped by which members they have, and each group is written with just
those. polars escapes strings as JCS does (``\\"``, ``\\\\``, ``\\b \\t \\n \\f \\r``,
other control characters as lower-case ``\\u00xx``, everything else raw UTF-8).
The property tests in ``tests/ingest/test_canonical.py`` hold every row to the
``rfc8785`` package and to :func:`ledger.proofs.canonical_bytes`.

The leaf hash is polars-hash's SHA-256 of the text behind a 0x00 byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl
import polars_hash as plh
from polars._typing import PolarsDataType

JCS: Final = "jcs"
LEAF: Final = "leaf"
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


def jcs(frame: pl.DataFrame, constants: Mapping[str, object]) -> pl.DataFrame:
    """``frame``'s rows as JCS text (``jcs``) and leaf hashes (``leaf``), in row order.

    ``constants`` are members every row has with the same value (the key ids).
    """
    if not frame.height:  # every row of the chunk refused
        return pl.DataFrame(schema={JCS: pl.String, LEAF: pl.String})
    schema = {name: _sorted_type(dtype) for name, dtype in frame.schema.items()}
    full = frame.cast(schema).with_columns(  # type: ignore[arg-type]
        *(pl.lit(_sorted_value(value)).alias(name) for name, value in constants.items()),
        pl.int_range(pl.len()).alias(_ORDER),
    )
    names = sorted([*schema, *constants], key=lambda name: name.encode("utf-16-be"))
    optional = [name for name in schema if frame.get_column(name).has_nulls()]
    marked = full.with_columns(
        pl.concat_str(
            [pl.col(name).is_not_null().cast(pl.UInt8).cast(pl.String) for name in optional]
            or [pl.lit("")]
        ).alias(_PRESENT)
    )
    parts = []
    for (present,), group in marked.group_by(_PRESENT):
        shown = [
            name
            for name in names
            if name not in optional or str(present)[optional.index(name)] == "1"
        ]
        parts.append(group.select(pl.col(_ORDER), pl.struct(shown).struct.json_encode().alias(JCS)))
    texts = pl.concat(parts).sort(_ORDER).get_column(JCS)
    return pl.DataFrame([texts]).with_columns(leaf_expr())


def leaf_expr() -> pl.Expr:
    """The RFC 6962 leaf hash of each row's JCS text, as 64 hex digits."""
    return plh.concat_str([pl.lit("\x00"), pl.col(JCS)]).chash.sha2_256().alias(LEAF)
