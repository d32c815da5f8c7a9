"""Display masks (JR/T 0171-2020 "去标识化" by partial hiding), declared as data. Lengths are kept.

A mask shows the first ``first`` and the last ``last`` characters and puts one
``*`` in place of each character between. It applies to values longer than
``first + last`` (and, when set, of exactly ``length`` or at least
``min_length`` characters); other values get the ``fallback`` style, or are
masked completely when there is none:

* ``name``   - first character: ``张三丰`` -> ``张**``
* ``id``     - first and last character: 18 characters -> ``1****************X``
* ``mobile`` - first 3 and last 4 digits of an 11-digit number: ``138****5678``
* ``card``   - first 6 and last 4 of 13 or more (PCI DSS display rule): ``622202******1234``

Adding a style is one entry in :data:`MASKS` (and its tests); :func:`mask_expr`
turns any entry into a polars expression, the only implementation of masking.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

import polars as pl

MOBILE_LENGTH: Final = 11
MIN_CARD_LENGTH: Final = 13  # shorter than this, 6 + 4 visible characters would show most of it
#: Longer than any value a mask applies to (validated text fields hold at most 64 characters).
_STARS: Final = "*" * 1024


class Mask(NamedTuple):
    """How much of a value one mask style leaves visible."""

    first: int
    last: int
    length: int | None = None  # applies only to values of exactly this length
    min_length: int | None = None  # applies only to values at least this long
    fallback: str | None = None  # the style for values it does not apply to


MASKS: Final[Mapping[str, Mask]] = {
    "name": Mask(first=1, last=0),
    "id": Mask(first=1, last=1),
    "mobile": Mask(first=3, last=4, length=MOBILE_LENGTH, fallback="id"),
    "card": Mask(first=6, last=4, min_length=MIN_CARD_LENGTH, fallback="id"),
}


def mask_expr(style: str, value: pl.Expr) -> pl.Expr:
    """``value`` (a string column) masked in ``style``; null stays null."""
    mask = MASKS[style]
    size = value.str.len_chars()
    hidden = size - mask.first - mask.last
    shown = pl.concat_str(
        value.str.slice(0, mask.first),
        pl.lit(_STARS).str.head(hidden),
        value.str.tail(mask.last) if mask.last else pl.lit(""),
    )
    applies = size > mask.first + mask.last
    if mask.length is not None:
        applies &= size == mask.length
    if mask.min_length is not None:
        applies &= size >= mask.min_length
    otherwise = (
        mask_expr(mask.fallback, value)
        if mask.fallback is not None
        else pl.lit(_STARS).str.head(size)
    )
    return pl.when(value.is_null()).then(None).when(applies).then(shown).otherwise(otherwise)


def mask(style: str, value: str) -> str:
    """One value masked in ``style`` (for look-ups and tests: the same expression)."""
    out = pl.select(mask_expr(style, pl.lit(value, dtype=pl.String))).item()
    assert isinstance(out, str)
    return out
