"""Request bodies: orjson parses only what it reads exactly as ``json`` does."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api import jsonbody
from api.limits import json_depth
from ledger.proofs import CanonicalFormError, canonical_bytes, leaf_hash, record_leaf_hash
from ledger.proofs.canonical import _is_plain

pytestmark = pytest.mark.skipif(jsonbody.scan(b"{}") is None, reason="needs ledger._speedups")

KEYS = st.sampled_from(["a", "record_id", "é", "\u20ac", "𝄞", "k\n", 'q"', "\\"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
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


@settings(max_examples=1500, deadline=None)
@given(VALUES, st.booleans())
def test_parsing_agrees_with_json_and_plain_means_plain(value: Any, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    parsed, plain = jsonbody.loads(body)
    assert _same(parsed, json.loads(body))
    depth, _ = jsonbody.scan(body) or (0, False)
    assert depth == json_depth(body, 0)
    if plain:
        assert _is_plain(parsed, 0)
        if isinstance(parsed, dict):
            try:
                want = leaf_hash(canonical_bytes(parsed))
            except CanonicalFormError:
                with pytest.raises(CanonicalFormError):
                    record_leaf_hash(parsed, plain=True)
            else:
                assert record_leaf_hash(parsed, plain=True) == want


@pytest.mark.parametrize(
    ("body", "plain"),
    [
        (b'{"records": [{"a": 1, "b": "\xc3\xa9"}]}', True),  # non-ASCII values are fine
        (b'{"a": 123456789012345678}', True),  # 18 digits: an int to both parsers
        (b'{"a": 1234567890123456789}', False),  # 19: orjson might make it a float
        (b'{"a": 18446744073709551616}', False),
        (b'{"a": 1.5}', False),
        (b'{"a": 1e5}', False),
        (b'{"a": -2E3}', False),
        (b'{"\xc3\xa9": 1}', False),  # a non-ASCII key sorts differently in UTF-16
        (b'{"\\u0041": 1}', False),  # an escaped key
        (b'{"a": "1.5e5"}', True),  # numbers inside strings are text
        (b'{"a" : "x", "b\\"": 2}', False),
    ],
)
def test_what_counts_as_plain(body: bytes, plain: bool) -> None:
    parsed, found = jsonbody.loads(body)
    assert found is plain
    assert _same(parsed, json.loads(body))


@pytest.mark.parametrize(
    "body",
    [b'{"a": NaN}', b'["\\ud800"]', b"[1] x", b"{"],
)
def test_what_orjson_refuses_is_left_to_json(body: bytes) -> None:
    try:
        want: Any = json.loads(body)
    except ValueError as exc:
        with pytest.raises(type(exc)):
            jsonbody.loads(body)
    else:
        parsed, plain = jsonbody.loads(body)
        assert not plain
        assert _same(parsed, want) or (math.isnan(parsed["a"]) and math.isnan(want["a"]))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"])
def test_a_body_is_read_as_utf8_only(encoding: str) -> None:
    # json.loads(bytes) would guess these encodings and read another text than the
    # depth scans read (issue 17: a UTF-16 body hid its nesting from them).
    with pytest.raises((UnicodeDecodeError, json.JSONDecodeError)):
        jsonbody.loads('{"a": [[1]]}'.encode(encoding))


def test_a_deep_body_is_not_plain() -> None:
    body = b'{"a":' * 70 + b"1" + b"}" * 70
    assert jsonbody.scan(body) == (70, True)
    assert jsonbody.loads(body)[1] is False  # deeper than canonical_bytes walks
