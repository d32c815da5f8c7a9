"""The one depth bound on JSON from outside (ledger.jsontext)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.jsontext import _structural_brackets, json_depth

PIECES = st.sampled_from(['"', "\\", "[", "]", "{", "}", "a", ",", ":", " ", "é"])


def reference_depth(body: bytes) -> int:
    """Brackets outside strings; a backslash in a string escapes the next character."""
    depth = deepest = 0
    in_string = escaped = False
    for char in body.decode("utf-8"):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


@settings(max_examples=3000, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_depth_is_never_less_than_the_reference(text: str) -> None:
    """On any text: at least as deep as a parser could go before it stops."""
    body = text.encode()
    assert json_depth(body, 0) >= reference_depth(body)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('"\\[]{}a/é')),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=2000, deadline=None)
@given(JSON_VALUES, st.booleans())
def test_depth_of_json_matches_the_reference(value: object, ascii_only: bool) -> None:
    """On JSON text (escaped quotes and backslashes in strings and keys): exact."""
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert json_depth(body, 0) == reference_depth(body)


def test_large_bodies_with_and_without_brackets_in_strings() -> None:
    records = (
        b'{"a": "x", "b": {"c": [1]}}',
        b'{"a": "x]", "b": {"c": [1]}}',
        rb'{"a": "\u5f20\"\\", "b\"": {"c": [1]}}',  # escapes: still the bytes-method scan
    )
    for record in records:
        body = b'{"records": [' + b",".join([record] * 5000) + b"]}"
        assert json_depth(body, 64) == 5
        # The tokenising scan only for a bracket inside a string.
        assert (_structural_brackets(body) is None) == (b"x]" in record)
