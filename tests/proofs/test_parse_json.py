"""Untrusted JSON text: read exactly as ``json`` reads it, bounded before parsing, and
records hashed over bytes the ``rfc8785`` package agrees with."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.jsontext import MAX_JSON_DEPTH, JsonTooDeepError
from ledger.proofs import CanonicalFormError, canonical_records, record_canonical
from ledger.proofs.canonical import parse_json

KEYS = st.sampled_from(["a", "record_id", "é", "\u20ac", "𝄞", "k\n", 'q"', "\\"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)  # lone surrogates included
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1 == 1.0 == True is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


@settings(max_examples=1000, deadline=None)
@given(VALUES, st.booleans())
def test_parsing_agrees_with_json(value: Any, ascii_only: bool) -> None:
    try:
        body = json.dumps(value, ensure_ascii=ascii_only).encode()
    except UnicodeEncodeError:  # a lone surrogate as raw UTF-8: not UTF-8 text
        body = json.dumps(value).encode()
    assert _same(parse_json(body), json.loads(body))


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 18446744073709551616}',  # beyond 64 bits: still an exact int, never a float
        b'{"a": -9223372036854775809}',
        b'{"a": NaN}',
        b'["\\ud800"]',
        b'["\\udc00", "\\ud800\\u0041"]',
        b'{"a": 1, "a": 2}',
        b'{"a": 1e400}',
    ],
)
def test_edges_read_as_json_reads_them(body: bytes) -> None:
    assert _same(parse_json(body), json.loads(body))


@pytest.mark.parametrize("body", [b"[1] x", b"{", b"", b"[01]", b'["a\x01"]', b"\xef\xbb\xbf[1]"])
def test_what_json_refuses_is_refused(body: bytes) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(body.decode("utf-8"))
    with pytest.raises(json.JSONDecodeError):
        parse_json(body)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"])
def test_text_is_read_as_utf8_only(encoding: str) -> None:
    # json.loads(bytes) would guess these encodings and read another text than the
    # depth scan read (issue 17: a UTF-16 body hid its nesting from it).
    with pytest.raises((UnicodeDecodeError, json.JSONDecodeError)):
        parse_json('{"a": [[1]]}'.encode(encoding))


def test_the_depth_is_bounded_before_parsing() -> None:
    deep = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(JsonTooDeepError):
        parse_json(deep)
    with pytest.raises(JsonTooDeepError):
        parse_json(b"[" * 200_000)  # never reaches a parser
    assert parse_json(deep[1:-1]) is not None


RECORD_KEYS = st.text(max_size=6) | KEYS  # non-ASCII, astral and lone surrogates
RECORD_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(RECORD_KEYS, inner, max_size=3),
    max_leaves=15,
)


@settings(max_examples=800, deadline=None)
@given(st.dictionaries(RECORD_KEYS, RECORD_VALUES, max_size=8))
def test_record_bytes_are_rfc8785s_or_refused_with_a_path(record: dict[str, Any]) -> None:
    try:
        want = rfc8785.dumps(record)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError):
        with pytest.raises(CanonicalFormError) as caught:
            record_canonical(record)
        assert caught.value.path.startswith("$")
        return
    assert record_canonical(record) == want
    assert record_canonical(parse_json(want)) == want  # and they read back as the record


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(RECORD_KEYS, RECORD_VALUES | st.floats(), max_size=5), max_size=6))
def test_many_records_at_once_are_each_record(records: list[dict[str, Any]]) -> None:
    try:
        one_by_one = [record_canonical(record) for record in records]
    except CanonicalFormError:
        with pytest.raises(CanonicalFormError):
            canonical_records(records)
    else:
        assert canonical_records(records) == one_by_one
