"""The C reader of verify bodies: each record's RFC 8785 bytes, straight from the JSON text.

``jcs_records`` answers a body with exactly what parsing, validating and
canonicalising it would give, or with None (then the route does all of that).
The properties: it is never wrong (agrees with ``json`` + ``VerifyRequest`` +
the ``rfc8785`` package, whatever the body); it is used (never None for records
of JSON types, ASCII keys that need no escapes and short integers, however the
JSON is written); and it accepts no text ``json`` refuses.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from api import jsonbody
from api.config import MAX_ITEMS
from api.models import VerifyRequest
from ledger.proofs import leaf_hash

c = jsonbody._jcs_records
pytestmark = pytest.mark.skipif(c is None, reason="needs ledger._speedups")

# Every short escape, other controls, DEL, the JavaScript line separators, the
# surrogate block's edges, and characters beyond U+FFFF (written as pairs).
SPECIAL = (
    "\x00\x01\x08\t\n\x0c\r\x1f \"'/\\\x7f\x80\u00e9\u2028\u2029\u4e2d\ud7ff\ue000\uffff\U0001f600"
)
TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(SPECIAL), max_size=10)
SHORT_INTS = st.integers(-(10**15) + 1, 10**15 - 1) | st.sampled_from([0, -1, 10**15 - 1])
# Keys written without escapes (what record fields are): printable ASCII but " and \.
ASCII_KEYS = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'), max_size=5
)
PLAIN = st.recursive(
    st.none() | st.booleans() | SHORT_INTS | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ASCII_KEYS, inner, max_size=5),
    max_leaves=12,
)
PLAIN_RECORDS = st.lists(st.dictionaries(ASCII_KEYS, PLAIN, max_size=6), min_size=1, max_size=3)
# Anything JSON holds, and more: keys that need escapes or are not ASCII, long
# integers, floats, empty lists of records.
ANY_KEYS = ASCII_KEYS | TEXT
ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_KEYS, inner, max_size=5),
    max_leaves=20,
)
ANY_RECORDS = st.lists(st.dictionaries(ANY_KEYS, ANY, max_size=6) | ANY, max_size=3)
STYLES = st.fixed_dictionaries(
    {
        "ensure_ascii": st.booleans(),
        "separators": st.sampled_from([(",", ":"), (", ", ": "), (" ,\t", " :\r\n")]),
        "indent": st.sampled_from([None, 0, 2]),
    }
)


def body_of(records: Any, style: dict[str, Any]) -> bytes:
    return json.dumps({"records": records}, **style).encode("utf-8")


def reference(body: bytes) -> list[bytes] | None:
    """What parsing, validating and canonicalising the body gives, or None if any refuses."""
    try:
        data = json.loads(body)
        checked = VerifyRequest.model_validate(data)
    except ValueError:
        return None
    if checked.records is None or checked.records != data["records"]:
        return None
    try:
        return [rfc8785.dumps(record) for record in data["records"]]
    except rfc8785.CanonicalizationError:
        return None


def read(body: bytes) -> list[bytes] | None:
    """The texts; their leaf hashes are checked here, every time."""
    assert c is not None
    answer = c(body, MAX_ITEMS)
    if answer is None:
        return None
    texts, hashes = answer
    assert hashes == [leaf_hash(text) for text in texts]
    return texts


@settings(max_examples=200, deadline=None)
@given(PLAIN_RECORDS, STYLES)
def test_plain_records_are_read_however_the_json_is_written(
    records: list[dict[str, Any]], style: dict[str, Any]
) -> None:
    body = body_of(records, style)
    assert read(body) == [rfc8785.dumps(record) for record in records]


@settings(max_examples=300, deadline=None)
@given(ANY_RECORDS, STYLES)
def test_whatever_it_reads_is_what_parsing_validating_and_jcs_give(
    records: Any, style: dict[str, Any]
) -> None:
    body = body_of(records, style)
    texts = read(body)
    if texts is not None:
        assert texts == reference(body)


@settings(max_examples=200, deadline=None)
@given(PLAIN_RECORDS, st.data())
def test_it_accepts_no_text_json_refuses(
    records: list[dict[str, Any]], data: st.DataObject
) -> None:
    body = bytearray(body_of(records, {"ensure_ascii": data.draw(st.booleans())}))
    at = data.draw(st.integers(0, len(body) - 1), label="at")
    how = data.draw(st.sampled_from(["byte", "drop", "cut"]), label="how")
    if how == "byte":
        body[at] = data.draw(st.integers(0, 255), label="byte")
    elif how == "drop":
        del body[at]
    else:
        del body[at:]
    texts = read(bytes(body))
    if texts is not None:
        assert texts == reference(bytes(body))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"records":[{"b":-0,"a":[true,false,null]}]}', [b'{"a":[true,false,null],"b":0}']),
        (b'{"records":[{"s":"\\u00e9\\/\\u0000\\ud83d\\ude00\\"\\t"}]}',
         ['{"s":"é/\\u0000😀\\"\\t"}'.encode()]),
        (b' \r\n{ "records" :\t[ {} , { "x" : [ ] } ] }\n', [b"{}", b'{"x":[]}']),
        (b'{"records":[{"n":999999999999999,"m":-999999999999999}]}',
         [b'{"m":-999999999999999,"n":999999999999999}']),
        ('{"records":[{"name":"张*","z":{"b":1,"a":{"d":2,"c":3}}}]}'.encode(),
         ['{"name":"张*","z":{"a":{"c":3,"d":2},"b":1}}'.encode()]),
    ],
)  # fmt: skip
def test_what_it_writes(body: bytes, expected: list[bytes]) -> None:
    assert read(body) == expected == reference(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"records":[]}',  # validation refuses it: its error comes from the slow path
        b'{"records":[1]}',
        b'{"records":[{"a":1}],"leaf_hashes":[]}',
        b'{"leaf_hashes":["0x00"]}',
        b'{"records":[{"a":1,"a":2}]}',  # json keeps the last: the slow path decides
        b'{"records":[{"a":1000000000000000}]}',  # 16 digits
        b'{"records":[{"a":1.0}]}',
        b'{"records":[{"a":1e2}]}',
        b'{"records":[{"a":01}]}',
        b'{"records":[{"a":-}]}',
        b'{"records":[{"a":"\\ud800"}]}',  # a lone surrogate
        b'{"records":[{"a":"\\udc00x"}]}',
        b'{"records":[{"a":"\\ud800\\u0041"}]}',
        b'{"records":[{"a":"\\x"}]}',
        b'{"records":[{"a":"\\u12g4"}]}',
        b'{"records":[{"a":"\x01"}]}',  # a raw control character
        b'{"records":[{"a":"\xff"}]}',  # not UTF-8
        b'{"records":[{"a":"\xc0\xaf"}]}',  # an overlong form
        b'{"records":[{"a":"\xed\xa0\x80"}]}',  # a surrogate in UTF-8
        b'{"records":[{"\\u0061":1}]}',  # an escaped key
        '{"records":[{"é":1}]}'.encode(),  # a non-ASCII key
        b'\xef\xbb\xbf{"records":[{"a":1}]}',  # a byte order mark
        b'{"records":[{"a":1}]} x',
        b'{"records":[{"a":1},]}',
        b'{"records":[{"a":1}',
        b'{"records":[{"a":tru}]}',
        b'{"records":[{"a":[1,]}]}',
        b'{"records":[{"a" 1}]}',
        b'{"records":[{a:1}]}',
        b'{"records":[{"a":1}]}' + b"]",
        b'{"records":[' + b'{"a":' * 61 + b"1" + b"}" * 61 + b"]}",  # deeper than 60 levels
    ],
)
def test_what_it_leaves_to_the_slow_path(body: bytes) -> None:
    assert read(body) is None


def test_no_more_records_than_a_request_may_hold() -> None:
    assert c is not None
    body = b'{"records":[' + b",".join([b"{}"] * 3) + b"]}"
    assert c(body, 3) == ([b"{}"] * 3, [leaf_hash(b"{}")] * 3)
    assert c(body, 2) is None


def test_a_deep_record_within_the_limit_is_read() -> None:
    body = b'{"records":[' + b'{"a":' * 59 + b"1" + b"}" * 59 + b"]}"
    assert read(body) == reference(body)


def test_a_large_object_in_any_key_order_is_read_and_a_repeat_anywhere_found() -> None:
    # Past the insertion sort: qsort, so no body costs quadratic time.
    keys = [f"k{n:05d}" for n in range(20_000)]
    record = {key: n for n, key in enumerate(reversed(keys))}
    body = body_of([record, {"b": {k: 1 for k in keys[:40]}, "a": 1}], {})
    assert read(body) == reference(body)
    repeated = body_of([record], {}).replace(b'"k00007"', b'"k19990"')
    assert read(repeated) is None
