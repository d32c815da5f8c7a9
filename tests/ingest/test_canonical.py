"""The column-wise RFC 8785 writer against the ``rfc8785`` package and ``canonical_bytes``."""

from __future__ import annotations

from typing import Any

import polars as pl
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger.ingest.canonical import JCS, LEAF, jcs
from ledger.proofs import canonical_bytes, leaf_hash
from ledger.records.frame import FUNDER

# Any Unicode scalar value (no lone surrogates: polars strings are UTF-8), control
# characters, quotes and backslashes above all.
TEXT = st.text(
    st.one_of(
        st.characters(exclude_categories=("Cs",)),
        st.sampled_from(['"', "\\", "\x00", "\x1f", "\x7f", "\u2028", "😀", "中"]),
    ),
    max_size=12,
)
INT = st.integers(-(2**53) + 1, 2**53 - 1)
FUNDERS = st.lists(st.fixed_dictionaries({"org_code": TEXT, "share_bp": INT}), min_size=1)
SCHEMA: dict[str, Any] = {
    "b_text": pl.String,
    "a_int": pl.Int64,
    "salt": pl.String,
    "consent_ids": pl.List(pl.String),
    "funders": pl.List(FUNDER),
}
ROW = st.fixed_dictionaries(
    {
        "b_text": st.none() | TEXT,
        "a_int": st.none() | INT,
        "salt": TEXT,
        "consent_ids": st.none() | st.lists(TEXT, min_size=1, max_size=3),
        "funders": st.none() | FUNDERS,
    }
)
CONSTANTS = {"pseudonym_key_ids": {"subject": "subject-1", "account": "account-1"}}


@given(st.lists(ROW, min_size=1, max_size=8))
def test_each_row_is_its_rfc8785_text_and_leaf(rows: list[dict[str, Any]]) -> None:
    frame = pl.DataFrame(rows, schema=SCHEMA)
    written = jcs(frame, CONSTANTS)
    assert written.height == len(rows)
    for row, text, leaf in zip(rows, written[JCS], written[LEAF], strict=True):
        record = {k: v for k, v in row.items() if v is not None} | CONSTANTS
        expected = rfc8785.dumps(record)
        assert text.encode() == expected
        assert canonical_bytes(record) == expected
        assert bytes.fromhex(leaf) == leaf_hash(expected)


def test_rows_keep_their_order_whatever_members_they_have() -> None:
    rows = [{"b_text": None if i % 3 else str(i), "a_int": i, "salt": "s"} for i in range(50)]
    frame = pl.DataFrame(rows, schema={"b_text": pl.String, "a_int": pl.Int64, "salt": pl.String})
    texts = jcs(frame, {}).get_column(JCS).to_list()
    assert [rfc8785.dumps({k: v for k, v in r.items() if v is not None}) for r in rows] == [
        t.encode() for t in texts
    ]


def test_no_rows_give_no_texts() -> None:
    empty = pl.DataFrame(schema={"b_text": pl.String, "a_int": pl.Int64})
    assert jcs(empty, CONSTANTS).height == 0
