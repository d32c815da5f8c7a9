"""Stage 4, canonicalise + leaf hash: each output row's RFC 8785 text and ``SHA-256(0x00 || text)``.

Output records are flat objects of known column types, so their JCS text is
written column by column: members in key order (output names are ASCII, so
code-point order is RFC 8785's UTF-16 order), strings escaped as §3.2.2.2
says (``\\"``, ``\\\\``, the short forms ``\\b \\t \\n \\f \\r``, other control
characters as lower-case ``\\u00xx``, everything else raw UTF-8), integers in
decimal, absent members left out. The leaf hash is polars-hash's SHA-256 of the
text behind a 0x00 byte. The property tests in ``tests/ingest/test_canonical.py``
hold every row to the ``rfc8785`` package and to :func:`ledger.proofs.canonical_bytes`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

import polars as pl
import polars_hash as plh
from polars._typing import PolarsDataType

from ledger.proofs import canonical_bytes

JCS: Final = "jcs"
LEAF: Final = "leaf"
_CONTROL: Final = [chr(code) for code in range(0x20)]
_SPECIAL: Final = ["\\", '"', *_CONTROL]
#: RFC 8785 §3.2.2.2 escapes; ``json.dumps`` writes exactly these for single characters.
_ESCAPED: Final = [json.dumps(char)[1:-1] for char in _SPECIAL]


def escaped(text: pl.Expr) -> pl.Expr:
    """A JSON string literal of each value, quotes included."""
    return pl.concat_str(pl.lit('"'), text.str.replace_many(_SPECIAL, _ESCAPED), pl.lit('"'))


def _value(expr: pl.Expr, dtype: PolarsDataType) -> pl.Expr:
    """The JCS text of one column's values (null stays null)."""
    if dtype == pl.String:
        return escaped(expr)
    if dtype.is_integer():
        return expr.cast(pl.String)
    if isinstance(dtype, pl.List):
        inner = dtype.inner
        item = _value(pl.element(), inner)
        return pl.concat_str(pl.lit("["), expr.list.eval(item).list.join(","), pl.lit("]"))
    if isinstance(dtype, pl.Struct):
        fields = sorted(dtype.fields, key=lambda f: f.name)
        members = [
            pl.concat_str(
                pl.lit(json.dumps(f.name) + ":"), _value(expr.struct.field(f.name), f.dtype)
            )
            for f in fields
        ]
        return pl.concat_str(pl.lit("{"), pl.concat_str(members, separator=","), pl.lit("}"))
    raise TypeError(f"no JCS form for column type {dtype}")


def jcs_expr(schema: Mapping[str, pl.DataType], constants: Mapping[str, object]) -> pl.Expr:
    """Each row's JCS text over the columns ``schema`` names plus the same ``constants`` in
    every row (written once by :func:`~ledger.proofs.canonical_bytes`)."""
    members: list[tuple[str, pl.Expr]] = [
        (name, pl.concat_str(pl.lit(json.dumps(name) + ":"), _value(pl.col(name), dtype)))
        for name, dtype in schema.items()
    ]
    members += [
        (name, pl.lit(json.dumps(name) + ":" + canonical_bytes(value).decode()))
        for name, value in constants.items()
    ]
    members.sort(key=lambda member: member[0].encode("utf-16-be"))
    body = pl.concat_str([expr for _, expr in members], separator=",", ignore_nulls=True)
    return pl.concat_str(pl.lit("{"), body, pl.lit("}")).alias(JCS)


def leaf_expr() -> pl.Expr:
    """The RFC 6962 leaf hash of each row's JCS text, as 64 hex digits."""
    return plh.concat_str([pl.lit("\x00"), pl.col(JCS)]).chash.sha2_256().alias(LEAF)
