"""RFC 8785 JSON Canonicalization Scheme (JCS): the bytes a record's leaf hash commits to.

Records hold strings, integers, booleans, null, arrays and objects; never
floats (amounts are decimal strings). For those values JCS is what the
standard library's C encoder writes with sorted keys, no whitespace and raw
UTF-8, provided that:

- every integer is within ±(2**53 - 1), since JCS writes numbers as IEEE 754
  doubles (RFC 8785 §3.2.2.3);
- every key is a string (``json`` silently turns ``1``, ``True`` or ``None``
  keys into strings);
- no string holds a lone surrogate (JCS needs valid Unicode, §3.1);
- keys sort the same by code point (Python) as by UTF-16 code unit (§3.2.3),
  which fails only when a key holds a character above U+FFFF.

String escaping already agrees with §3.2.2.2: ``\\b \\t \\n \\f \\r``, ``\\"``
and ``\\\\`` in short form, other control characters as lower-case ``\\u00xx``,
everything else (U+007F, U+2028, U+2029, CJK, emoji) as raw UTF-8. The property
test in ``tests/proofs/test_canonical.py`` checks all of this against the
``rfc8785`` package.

The same holds for ``orjson`` with sorted keys, which writes the bytes
directly (no ``str`` in between) and about ten times faster; with
``OPT_STRICT_INTEGER`` it also refuses integers beyond ±(2**53 - 1) itself.

So :func:`canonical_bytes` runs a cheap type walk over the containers and lets
``orjson`` do the writing. Values the walk does not vouch for (subclasses
such as ``StrEnum``, non-ASCII keys) take a slower walk that either names the
problem or lets them through to the standard library's encoder, and keys
above U+FFFF get a UTF-16-sorted writer.

Records read from JSON text by a decoder typed :data:`PlainRecord` (msgspec)
need no walk: the type already holds them to what the walk checks, but for
ASCII keys, which their ASCII output shows (:func:`canonical_plain_records`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import chain, compress
from typing import Any, Final, NoReturn, TypeAlias

import orjson
import pydantic_core

from ledger import jsontext
from ledger.jsontext import MAX_JSON_DEPTH
from ledger.proofs.errors import CanonicalFormError
from ledger.proofs.merkle import leaf_hash

MAX_SAFE_INTEGER: Final = 2**53 - 1  # JCS numbers are IEEE 754 doubles: exact up to here
# The bound caps the recursion an untrusted value can cause, and a value that
# refers to itself is refused instead of looping.
MAX_DEPTH: Final = MAX_JSON_DEPTH

_HINT: Final = (
    "A record holds strings, integers within ±(2**53 - 1), booleans, null, lists and "
    "objects with string keys; write amounts as decimal strings."
)
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FAST_OPTIONS: Final = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
#: Types written as they are (integers: orjson refuses those out of range).
_SCALAR_TYPES: Final = frozenset({str, int, bool, type(None)})
_CONTAINER_TYPES: Final = frozenset({dict, list, tuple})
_PLAIN_TYPES: Final = _SCALAR_TYPES | _CONTAINER_TYPES
_SEQUENCE_TYPES: Final = frozenset({list, tuple})
_DICT_TYPE: Final = frozenset({dict})


# What a record may hold, level by level, as a typed decoder reads it: plain types
# only (no floats, no subclasses), and a fixed depth, refused as soon as it is exceeded.
_PlainScalar: TypeAlias = str | int | bool | None
_Plain3: TypeAlias = _PlainScalar | list[_PlainScalar] | dict[str, _PlainScalar]
_Plain2: TypeAlias = _PlainScalar | list[_Plain3] | dict[str, _Plain3]
_Plain1: TypeAlias = _PlainScalar | list[_Plain2] | dict[str, _Plain2]
#: A record whose every value the type walk of :func:`canonical_bytes` would pass,
#: but for its keys being ASCII, when a decoder typed with it (msgspec) reads it:
#: strings, integers, booleans, null, lists and objects with string keys, nested
#: :data:`PLAIN_RECORD_DEPTH` levels deep at most (the record and three inside it).
PlainRecord: TypeAlias = dict[str, _Plain1]
PLAIN_RECORD_DEPTH: Final = 4


def _unreachable(value: object) -> NoReturn:
    """``default=`` hook: the type walk refuses unsupported types before the encoder runs."""
    raise CanonicalFormError(f"unsupported type {type(value).__name__}", path="$", hint=_HINT)


# check_circular is off because the type walk bounds the depth, which refuses cycles.
_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False,
    check_circular=False,
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
    default=_unreachable,
)


def canonical_bytes(value: object) -> bytes:
    """The RFC 8785 (JCS) serialisation of ``value``, as UTF-8 bytes.

    Raises :class:`CanonicalFormError` naming the JSON path (never the value)
    for anything JCS cannot represent here: a float, NaN, a non-string key, an
    integer beyond ±(2**53 - 1), a lone surrogate, another type, or nesting
    deeper than :data:`MAX_DEPTH`.
    """
    if _all_plain((value,)):
        try:
            return orjson.dumps(value, option=_FAST_OPTIONS)
        except orjson.JSONEncodeError:
            pass  # an integer out of range or a lone surrogate: find its path below
        _check(value, "$", 0, strings=True)
        raise CanonicalFormError("cannot be written as JSON", path="$", hint=_HINT)
    _check(value, "$", 0)  # raises, unless only subclasses or non-ASCII keys got us here
    text = _utf16_sorted_text(value) if _has_astral_key(value) else _ENCODER.encode(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass  # leave the error (it holds the whole text) behind; find the path instead
    _check(value, "$", 0, strings=True)
    raise CanonicalFormError("holds a lone surrogate", path="$", hint=_HINT)  # not reached


def canonical_records(records: Sequence[Mapping[str, object]]) -> list[bytes]:
    """:func:`record_canonical` of each record; one type walk over all of them at once.

    Raises :class:`CanonicalFormError` for the first record without a canonical form.
    """
    if type(records) is list and set(map(type, records)) == {dict} and _all_plain(records):
        try:
            return [orjson.dumps(record, option=_FAST_OPTIONS) for record in records]
        except orjson.JSONEncodeError:
            pass  # one is out of range, or holds a lone surrogate: find it below
    return [record_canonical(record) for record in records]


def canonical_plain_records(records: Sequence[PlainRecord]) -> list[bytes]:
    """:func:`canonical_bytes` of each record, for records read by a decoder typed
    :data:`PlainRecord` (nothing else: the type is what vouches for their values).

    The type walk would pass such a record whenever its keys are ASCII, and then
    :func:`canonical_bytes` is ``orjson``'s output; ASCII output shows ASCII keys.
    A record whose output is not ASCII goes through :func:`canonical_bytes` itself.
    Raises :class:`CanonicalFormError` for the first record without a canonical form
    (an integer beyond ±(2**53 - 1), a lone surrogate).
    """
    try:
        written = [orjson.dumps(record, option=_FAST_OPTIONS) for record in records]
    except orjson.JSONEncodeError:
        return [canonical_bytes(record) for record in records]  # raises, naming the path
    if all(map(bytes.isascii, written)):
        return written
    return [
        text if text.isascii() else canonical_bytes(record)
        for record, text in zip(records, written, strict=True)
    ]


def record_leaf_hash(record: Mapping[str, object]) -> bytes:
    """RFC 6962 leaf hash of a record: ``SHA-256(0x00 || JCS(record))``."""
    return leaf_hash(record_canonical(record))


def record_canonical(record: Mapping[str, object]) -> bytes:
    """JCS bytes of a record (a JSON object), as its leaf hash takes them."""
    if not isinstance(record, Mapping):
        raise CanonicalFormError("a record must be a JSON object", path="$", hint=_HINT)
    return canonical_bytes(record if isinstance(record, dict) else dict(record))


def _all_plain(values: Collection[object]) -> bool:
    """True when ``orjson`` writes every one of ``values`` exactly as JCS does, or
    refuses it itself.

    That is: plain types only (no floats, no subclasses), ASCII keys (which
    sort the same by code point and by UTF-16 code unit), at most MAX_DEPTH
    levels. Integers out of range and lone surrogates make orjson raise. The
    walk goes level by level over all the values at once: each level's member
    types, keys and nested containers are collected in a few C calls, so 10,000
    flat records cost a handful of Python steps, not 10,000 loops.
    """
    level: Collection[object] = values
    for depth in range(MAX_DEPTH + 1):
        types = list(map(type, level))
        kinds = set(types)
        if kinds <= _SCALAR_TYPES:
            return True
        if not kinds <= _PLAIN_TYPES or depth == MAX_DEPTH:
            return False
        # Each selection is a pass over the whole level: only for kinds it holds.
        dicts: list[dict[Any, object]] = (
            list(compress(level, map(_DICT_TYPE.__contains__, types)))  # type: ignore[arg-type]
            if dict in kinds
            else []
        )
        try:  # one C call checks that every key is a str, and an ASCII one
            if not "".join(chain.from_iterable(dicts)).isascii():
                return False
        except TypeError:
            return False
        sequences: Iterable[Iterable[object]] = (
            compress(level, map(_SEQUENCE_TYPES.__contains__, types))  # type: ignore[arg-type]
            if not kinds.isdisjoint(_SEQUENCE_TYPES)
            else ()
        )
        members: Iterable[object] = chain(chain.from_iterable(map(dict.values, dicts)), *sequences)
        level = list(members)
    return False  # not reached: the last pass returns


def _check(value: object, path: str, depth: int, *, strings: bool = False) -> None:
    """Raise :class:`CanonicalFormError` at the first value JCS cannot represent.

    Accepts subclasses of the plain types (``StrEnum``, ``IntEnum``), which the
    encoder writes as their plain values. With ``strings``, also looks for lone
    surrogates, which only the final UTF-8 encoding reveals.
    """

    def fail(reason: str, where: str = path) -> NoReturn:
        raise CanonicalFormError(reason, path=where, hint=_HINT)

    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if strings and not _is_unicode(value):
            fail("string holds a lone surrogate, which is not valid Unicode")
    elif isinstance(value, float):
        fail("is a float; JCS numbers here are integers only (write amounts as decimal strings)")
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            fail("integer is outside ±(2**53 - 1), the range a JCS number holds exactly")
    elif isinstance(value, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            fail(f"nested deeper than {MAX_DEPTH} levels (or refers to itself)")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    fail(f"has a key of type {type(key).__name__}; object keys must be strings")
                member = _member(path, key)
                if strings and not _is_unicode(key):
                    fail("key holds a lone surrogate, which is not valid Unicode", member)
                _check(item, member, depth + 1, strings=strings)
        else:
            for index, item in enumerate(value):
                _check(item, f"{path}[{index}]", depth + 1, strings=strings)
    else:
        fail(f"has unsupported type {type(value).__name__}")


def _member(path: str, key: str) -> str:
    """JSONPath of member ``key``: ``$.salt``; ``$.*`` for a key that is not a plain
    identifier, since such a key may be a value sent as a key (an ID number, a name)."""
    if _IDENTIFIER.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}.*"


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _has_astral_key(value: object) -> bool:
    if isinstance(value, dict):
        if any(key and max(key) > "\uffff" for key in value):
            return True
        return any(_has_astral_key(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_astral_key(item) for item in value)
    return False


def _utf16_sorted_text(value: object) -> str:
    """JCS text with keys sorted by UTF-16 code units (RFC 8785 §3.2.3), the slow way.

    UTF-16-BE bytes compare exactly as the code units do. Scalars, and so all
    string escaping, still go through the same C encoder.
    """
    if isinstance(value, dict):
        # surrogatepass: a lone surrogate sorts somewhere, and is refused after encoding
        members = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be", "surrogatepass"))
        body = ",".join(_ENCODER.encode(k) + ":" + _utf16_sorted_text(v) for k, v in members)
        return "{" + body + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(_utf16_sorted_text, value)) + "]"
    return _ENCODER.encode(value)


def parse_json(raw: bytes) -> Any:
    """JSON text from outside (UTF-8), as ``json.loads`` reads it, at most MAX_DEPTH deep.

    The depth is counted on the bytes first (:mod:`ledger.jsontext`). Then
    pydantic-core's parser (jiter, compiled) reads it: it gives exactly what
    ``json`` gives for what it accepts, integers of any size included (orjson
    would turn those beyond 64 bits into floats). It refuses a little more than
    ``json`` does: lone surrogates, which ``json`` reads as they are and
    :func:`canonical_bytes` then refuses, naming their path. So where it refuses,
    ``json`` reads the text, and has the last word and the error message.
    Raises :class:`~ledger.jsontext.JsonTooDeepError`, ``UnicodeDecodeError`` or
    ``json.JSONDecodeError`` (all ``ValueError``).
    """
    if jsontext.json_depth(raw, MAX_DEPTH) > MAX_DEPTH:
        raise jsontext.JsonTooDeepError(MAX_DEPTH)
    try:
        return pydantic_core.from_json(raw, cache_strings="keys")
    except ValueError:
        return jsontext.loads(raw, limit=MAX_DEPTH)
