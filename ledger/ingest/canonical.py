"""Stage 4, canonicalise + leaf hash: each output row's RFC 8785 text and ``SHA-256(0x00 || text)``.

The text is :func:`ledger.proofs.jcs_frames.jcs_texts`' (polars' own JSON
writer, members in key order, absent members left out); the property tests in
``tests/ingest/test_canonical.py`` hold every row to the ``rfc8785`` package
and to :func:`ledger.proofs.canonical_bytes`.

The leaf hash is polars-hash's SHA-256 of the text behind a 0x00 byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl
import polars_hash as plh

from ledger.proofs.jcs_frames import jcs_texts

JCS: Final = "jcs"
LEAF: Final = "leaf"


def jcs(frame: pl.DataFrame, constants: Mapping[str, object]) -> pl.DataFrame:
    """``frame``'s rows as JCS text (``jcs``) and leaf hashes (``leaf``), in row order.

    ``constants`` are members every row has with the same value (the key ids).
    """
    if not frame.height:  # every row of the chunk refused
        return pl.DataFrame(schema={JCS: pl.String, LEAF: pl.String})
    return pl.DataFrame([jcs_texts(frame, constants, JCS)]).with_columns(leaf_expr())


def leaf_expr() -> pl.Expr:
    """The RFC 6962 leaf hash of each row's JCS text, as 64 hex digits."""
    return plh.concat_str([pl.lit("\x00"), pl.col(JCS)]).chash.sha2_256().alias(LEAF)
