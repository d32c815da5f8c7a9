"""RFC 8785 (JCS) canonical bytes: agree with the ``rfc8785`` package, refuse what JCS cannot hold.

The published vectors are from RFC 8785 (https://www.rfc-editor.org/rfc/rfc8785):
§3.2.3 (sorting of object properties, no floats) verbatim, and the ``string`` and
``literals`` members of the §3.2.2 example (its ``numbers`` member holds floats,
which records never do; the whole example is therefore refused, at that path).
"""

from __future__ import annotations

import enum
import hashlib
import json
import pickle
from collections import OrderedDict
from types import MappingProxyType

import msgspec
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.proofs import (
    CanonicalFormError,
    canonical,
    canonical_bytes,
    leaf_hash,
    record_leaf_hash,
)
from ledger.proofs.canonical import (
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    PLAIN_RECORD_DEPTH,
    PlainRecord,
    canonical_plain_records,
)

# Characters whose handling differs between naive JSON writers: every short
# escape, other controls, DEL, the JavaScript line separators, the ends of the
# BMP around the surrogate block, and characters above U+FFFF (which sort
# differently by UTF-16 code unit than by code point).
SPECIAL_CHARS = (
    "\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f \"'/\\\x7f\x80\x9f\u00e9\u00f6\u20ac"
    "\u2028\u2029\u4e2d\u6587\ud7ff\ue000\ufb33\ufeff\uffff"
    "\U00010000\U0001f600\U0010ffff"
)
CHARS = st.one_of(st.characters(codec="utf-8"), st.sampled_from(SPECIAL_CHARS))
TEXT = st.text(CHARS, max_size=12)
KEYS = st.text(CHARS, max_size=4)
INTS = st.one_of(
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.sampled_from([0, -1, 1, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 2**31, -(2**63) // 2**11]),
)
SCALARS = st.one_of(st.none(), st.booleans(), INTS, TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(KEYS, inner, max_size=6)),
    max_leaves=24,
)
# Keys from a tiny alphabet where code point and UTF-16 order disagree, so that
# objects holding both kinds of key come up often.
ORDER_KEYS = st.text(st.sampled_from("a\u00e9\ue000\ufb33\uffff\U00010000\U0001f600"), max_size=3)


@settings(max_examples=2000, deadline=None)
@given(JSON_VALUES)
def test_agrees_with_rfc8785_package(value: object) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


# ASCII keys only: the values the fast (orjson) writer takes, records above all.
ASCII_KEYS = st.text(st.characters(max_codepoint=0x7F), max_size=6)
FAST_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(ASCII_KEYS, inner, max_size=6)
    ),
    max_leaves=24,
)


# 1000 examples of up to 8 x 24 leaves each: about 25 s, nearly all of it spent
# generating them. 2000 took 50 s, the slowest test in the suite by far.
@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(ASCII_KEYS, FAST_VALUES, max_size=8))
def test_fast_path_agrees_with_rfc8785_package(value: dict[str, object]) -> None:
    assert canonical._all_plain([value])  # this test is about the orjson writer
    assert canonical_bytes(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(ORDER_KEYS, st.one_of(st.none(), INTS, TEXT), min_size=2, max_size=8))
def test_sorts_keys_by_utf16_code_units_like_rfc8785(value: dict[str, object]) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)  # type: ignore[arg-type]
    nested = {"outer": [value]}
    assert canonical_bytes(nested) == rfc8785.dumps(nested)  # type: ignore[arg-type]


def test_every_character_is_escaped_as_rfc8785_does() -> None:
    """RFC 8785 §3.2.2.2 escaping, checked for every Unicode scalar value at once."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert canonical_bytes(every) == rfc8785.dumps(every)
    assert canonical_bytes({every: every}) == rfc8785.dumps({every: every})


def test_escapes_exactly_the_rfc8785_set() -> None:
    text = '\b\t\n\f\r\x00\x1f\x7f"\\/\u2028\u2029'
    assert canonical_bytes(text) == (
        b'"\\b\\t\\n\\f\\r\\u0000\\u001f\x7f\\"\\\\/' + "\u2028\u2029".encode() + b'"'
    )


def test_rfc8785_section_3_2_3_sorting_example() -> None:
    """RFC 8785 §3.2.3, input as published (JSON text); the emoji sorts before U+FB33."""
    published_input = (
        '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", '
        '"\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", '
        '"\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", '
        '"\\u00f6": "Latin Small Letter O With Diaeresis"}'
    )
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_bytes(json.loads(published_input)) == expected.encode("utf-8")


RFC_3_2_2_INPUT = (
    '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
    ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
    ' "literals": [null, true, false]}'
)


def test_rfc8785_section_3_2_2_example_without_its_numbers() -> None:
    value = json.loads(RFC_3_2_2_INPUT)
    del value["numbers"]
    expected = '{"literals":[null,true,false],"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    assert canonical_bytes(value) == expected.encode("utf-8")


def test_rfc8785_section_3_2_2_example_is_refused_for_its_floats() -> None:
    with pytest.raises(CanonicalFormError) as err:
        canonical_bytes(json.loads(RFC_3_2_2_INPUT))
    assert err.value.path == "$.numbers[0]"


def test_chinese_text_is_raw_utf8() -> None:
    record = {"region": "广东省深圳市", "occupation": "专业技术人员"}
    out = canonical_bytes(record)
    assert out == '{"occupation":"专业技术人员","region":"广东省深圳市"}'.encode()
    assert b"\\u" not in out


def test_output_is_compact_and_sorted_at_every_level() -> None:
    value = {"b": [{"z": 1, "a": None}], "a": {"d": True, "c": -5}, "": "empty"}
    assert canonical_bytes(value) == b'{"":"empty","a":{"c":-5,"d":true},"b":[{"a":null,"z":1}]}'


def test_subclasses_of_plain_types_write_as_their_values() -> None:
    class Status(enum.StrEnum):
        ACTIVE = "active"

    class Term(enum.IntEnum):
        YEAR = 12

    value = OrderedDict([("term", Term.YEAR), ("status", Status.ACTIVE), ("tags", ("a", "b"))])
    assert canonical_bytes(value) == b'{"status":"active","tags":["a","b"],"term":12}'
    assert canonical_bytes(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


def test_non_ascii_keys_take_the_checked_path() -> None:
    value = {"名称": "x", "b": {"\U0001f600": 1, "\uffff": 2}}
    assert canonical_bytes(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


def test_integer_limits() -> None:
    assert (
        canonical_bytes([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER])
        == b"[9007199254740991,-9007199254740991]"
    )


def self_referencing() -> object:
    value: dict[str, object] = {}
    value["self"] = value
    return value


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        (1.5, "$", "float"),
        ({"balance": 12.0}, "$.balance", "float"),
        ({"funders": [{"share_bp": 0.5}]}, "$.funders[0].share_bp", "float"),
        ({"x": float("nan")}, "$.x", "float"),
        ({"x": [float("inf")]}, "$.x[0]", "float"),
        ({1: "one"}, "$", "key of type int"),
        ({"a": {True: 1}}, "$.a", "key of type bool"),
        ({"a": {None: 1}}, "$.a", "key of type NoneType"),
        ({"a": [{1.5: 1}]}, "$.a[0]", "key of type float"),
        ({"n": 2**53}, "$.n", "2**53"),
        ({"n": -(2**53)}, "$.n", "2**53"),
        ([0, 10**30], "$[1]", "2**53"),
        ({"s": "\ud800"}, "$.s", "lone surrogate"),
        ({"a": ["ok", "x\udfff"]}, "$.a[1]", "lone surrogate"),
        ({"\ud83d": 1}, "$.*", "lone surrogate"),
        ({"\U0001f600": 1, "x": {"\ud800": 2}}, "$.x.*", "lone surrogate"),
        ({"odd key": b"bytes"}, "$.*", "unsupported type bytes"),
        ({"11010119900307001X": 1.5}, "$.*", "float"),  # a value sent as a key stays unshown
        ({"d": {1, 2}}, "$.d", "unsupported type set"),
        ({"m": MappingProxyType({"a": 1})}, "$.m", "unsupported type mappingproxy"),
        ({"o": object()}, "$.o", "unsupported type object"),
        (nested(MAX_DEPTH + 1), "$" + "[0]" * MAX_DEPTH, "nested deeper"),
        (self_referencing(), "$" + ".self" * MAX_DEPTH, "refers to itself"),
    ],
)
def test_refusals_name_the_path(value: object, path: str, reason: str) -> None:
    with pytest.raises(CanonicalFormError) as err:
        canonical_bytes(value)
    assert err.value.path == path
    assert reason in err.value.reason
    assert str(err.value).startswith(path + ": ")
    assert isinstance(err.value, InputError)
    assert err.value.code == "canonical-form"


def test_the_deepest_accepted_nesting() -> None:
    assert canonical_bytes(nested(MAX_DEPTH)) == b"[" * MAX_DEPTH + b'"leaf"' + b"]" * MAX_DEPTH


@pytest.mark.parametrize(
    "record",
    [
        {"phone": 13800138000.5},
        {"card": 6222020200112233445},
        {"name": "张三\ud800110101199003074258"},
        {"ids": [{"id": 110101199003074258}]},
    ],
)
def test_refusals_never_show_the_value(record: dict[str, object]) -> None:
    with pytest.raises(CanonicalFormError) as err:
        canonical_bytes(record)
    text = err.value.diagnostics()
    for secret in ("13800138000", "6222020200112233445", "张三", "110101199003074258"):
        assert secret not in text


def test_error_pickles_with_its_data() -> None:
    error = CanonicalFormError("is a float", path="$.a[0]", hint="h")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - bytes this test just made
    assert (copy.path, copy.reason, copy.hint, str(copy)) == (
        "$.a[0]",
        "is a float",
        "h",
        "$.a[0]: is a float",
    )


def test_record_leaf_hash_is_rfc6962_leaf_of_the_jcs_bytes() -> None:
    record = {"salt": "0x" + "11" * 32, "record_id": "R1", "balance": "12.00"}
    canonical = b'{"balance":"12.00","record_id":"R1","salt":"0x' + b"11" * 32 + b'"}'
    assert record_leaf_hash(record) == hashlib.sha256(b"\x00" + canonical).digest()
    assert record_leaf_hash(record) == leaf_hash(canonical_bytes(record))
    assert record_leaf_hash(MappingProxyType(record)) == record_leaf_hash(record)


def test_record_leaf_hash_needs_an_object() -> None:
    with pytest.raises(CanonicalFormError) as err:
        record_leaf_hash(["not", "a", "record"])  # type: ignore[arg-type]
    assert err.value.path == "$"


WILD_SCALARS = st.one_of(
    SCALARS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.text(st.characters(), max_size=4),  # lone surrogates included
    st.binary(max_size=2),
)
WILD_KEYS = st.one_of(KEYS, st.text(st.characters(), max_size=2), st.integers(), st.booleans())
WILD_VALUES = st.recursive(
    WILD_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(WILD_KEYS, inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(WILD_VALUES)
def test_anything_else_is_refused_with_a_typed_error_only(value: object) -> None:
    error: CanonicalFormError | None = None
    try:
        out = canonical_bytes(value)
    except CanonicalFormError as caught:
        error = caught
    if error is None:
        assert out == rfc8785.dumps(value)  # type: ignore[arg-type]
    else:
        assert error.path.startswith("$")


# -- records read by a decoder typed PlainRecord ---------------------------------------

PLAIN = msgspec.json.Decoder(PlainRecord)
WIDE_INTS = st.one_of(INTS, st.integers(), st.sampled_from([2**53, -(2**53), 2**64, -(2**64)]))
# Up to PLAIN_RECORD_DEPTH - 1 levels inside the record: what the decoder reads.
PLAIN_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), WIDE_INTS, TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=16,
).filter(lambda value: depth(value) < PLAIN_RECORD_DEPTH)


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def written(write: object, record: object) -> bytes | str:
    try:
        return write(record)  # type: ignore[operator, no-any-return]
    except CanonicalFormError as error:
        return error.path


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.dictionaries(KEYS, PLAIN_VALUES, max_size=6),
        st.dictionaries(ORDER_KEYS, PLAIN_VALUES, max_size=4),
    )
)
def test_plain_records_write_as_canonical_bytes_does(value: dict[str, object]) -> None:
    """Non-ASCII and astral keys, integers out of range: the same bytes, or the same refusal."""
    record = PLAIN.decode(json.dumps(value))
    assert record == value
    assert written(lambda r: canonical_plain_records([r])[0], record) == written(
        canonical_bytes, record
    )


def test_many_plain_records_at_once() -> None:
    records = [PLAIN.decode(json.dumps({"k": i, "\u00e9": "\u5317"[: i % 2]})) for i in range(5)]
    assert canonical_plain_records(records) == [canonical_bytes(r) for r in records]
    with pytest.raises(CanonicalFormError):
        canonical_plain_records([*records, {"k": 2**60}])


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1.5}',
        '{"a": 1e2}',
        '{"a": "\\ud800"}',
        '{"a": [[[["deep"]]]]}',
        '{"a": {"b": {"c": {"d": {"e": 1}}}}}',
        '["not", "an", "object"]',
    ],
)
def test_the_decoder_refuses_what_is_not_plain(text: str) -> None:
    with pytest.raises(msgspec.DecodeError):
        PLAIN.decode(text)


def test_the_decoder_reads_plain_record_depth_levels() -> None:
    assert PLAIN.decode('{"a": [[{"b": 1}]]}') == {"a": [[{"b": 1}]]}
    assert PLAIN.decode('{"a": {"b": {"c": {"d": 1}}}}') == {"a": {"b": {"c": {"d": 1}}}}
