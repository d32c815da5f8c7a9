"""The one depth bound on JSON from outside (ledger.jsontext)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.jsontext import json_depth

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


@settings(max_examples=2000, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_depth_matches_the_reference(text: str) -> None:
    body = text.encode()
    assert json_depth(body, 0) == reference_depth(body)


def test_large_bodies_with_and_without_brackets_in_strings() -> None:
    for record in (b'{"a": "x", "b": {"c": [1]}}', b'{"a": "x]", "b": {"c": [1]}}'):
        body = b'{"records": [' + b",".join([record] * 5000) + b"]}"
        assert json_depth(body, 64) == 5
