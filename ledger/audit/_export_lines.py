"""An export line read by the rule: a plain tuple, or its number when unreadable.

This is what an export line means, one line at a time: the generic JSON reader
(bounded first), the bundle's members looked up, its hashes checked, its record
hashed by :func:`~ledger.proofs.record_leaf_hash`. Most lines are read a chunk
at a time instead (:mod:`ledger.audit._export_runs`), which hands every line it
cannot vouch for to :func:`scan_line`. Judging the lines (duplicates, trees, the
store) is :mod:`ledger.audit.records`'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ledger.errors import LedgerError
from ledger.proofs import BUNDLE_FORMAT, HASH_ALG, record_leaf_hash
from ledger.proofs.canonical import parse_json

#: A 32-byte hash in a bundle: ``0x`` and 64 lower-case hex digits.
HEX32_CHARS: Final = 66
_HEX_DIGITS: Final = b"0123456789abcdef"
#: A line longer than a bundle may be (ledger.proofs.MAX_BUNDLE_BYTES) is not read.
MAX_LINE: Final = 1024 * 1024
#: A line's verdict on its record: none or hashing right, not canonical, another hash.
RECORD_OK, RECORD_BAD_FORM, RECORD_OTHER_HASH = 0, 1, 2

#: (line, batch id, leaf index, tree size, leaf hash, root, audit path (hashes joined),
#: record (None when absent or not kept), record verdict, computed leaf hash).
Scanned = tuple[int, str, int, int, bytes, str, bytes, "dict[str, Any] | None", int, bytes]
#: An unreadable line is its number alone.
Entry = int | Scanned


def hex32_joined(values: Sequence[Any]) -> str:
    """``values`` joined, when every one is ``0x`` and 64 lower-case hex digits (a 32-byte
    hash as a bundle writes it); ValueError (or TypeError, for what is not text) otherwise."""
    if set(map(len, values)) != {HEX32_CHARS}:  # TypeError for what has no length
        raise ValueError("not a 32-byte hex value")
    joined = "".join(values)  # TypeError for what is not text
    check_hex32_run(joined)
    return joined


def check_hex32_run(joined: str) -> None:
    """Raise ValueError unless ``joined`` is hashes of 66 characters end to end, each ``0x``
    and 64 lower-case hex digits (that each value joined was 66 long is the caller's to know).

    A few C calls for any number of them: ``0`` and ``x`` in their places (two
    stepped slices), and nothing but those ``x`` left once the hex digits are deleted.
    """
    count, rest = divmod(len(joined), HEX32_CHARS)
    if rest or joined[::HEX32_CHARS] != "0" * count or joined[1::HEX32_CHARS] != "x" * count:
        raise ValueError("not a 32-byte hex value")
    if joined.encode("utf-8", "surrogatepass").translate(None, _HEX_DIGITS) != b"x" * count:
        raise ValueError("not a 32-byte hex value")


def hex32_bytes(joined: str) -> bytes:
    """The hashes of a :func:`hex32_joined` text (or of a run of its values), as bytes."""
    return bytes.fromhex(joined.replace("0x", ""))  # "x" is no hex digit: only the prefixes go


def _hashes(batch_id: Any, root: Any, leaf: Any, path: Any) -> tuple[str, str, bytes, bytes]:
    """(batch id, root, leaf hash, audit path joined) when every one is lower-case
    32-byte hex with ``0x`` (ValueError/TypeError otherwise)."""
    joined = hex32_joined((batch_id, root, leaf, *path))  # TypeError: a path not iterable
    return batch_id, root, hex32_bytes(leaf), hex32_bytes(joined[3 * HEX32_CHARS :])


def _load(line: str) -> Any:
    """The JSON of a line (``ledger.proofs.canonical.parse_json``)."""
    return parse_json(line.encode("utf-8", "surrogatepass"))


def _record_verdict(record: dict[str, Any] | None, leaf: bytes) -> tuple[int, bytes]:
    if record is None:
        return RECORD_OK, leaf
    try:
        computed = record_leaf_hash(record)
    except LedgerError:
        return RECORD_BAD_FORM, leaf
    return (RECORD_OK if computed == leaf else RECORD_OTHER_HASH), computed


def scan_line(number: int, line: str, *, keep_record: bool) -> Entry:
    """A bundle line parsed and its record hashed; its number alone when unreadable."""
    try:
        if len(line) > MAX_LINE:
            raise ValueError("line too long")
        data = _load(line)
        if data["format"] != BUNDLE_FORMAT or data["hash_alg"] != HASH_ALG:
            raise ValueError("not a proof bundle")
        index, size, record = data["leaf_index"], data["tree_size"], data.get("record")
        if not (type(index) is int and type(size) is int and 0 <= index < size):
            raise ValueError("bad index or size")
        if record is not None and not isinstance(record, dict):
            raise ValueError("bad record")
        batch_id, root, leaf, path = _hashes(
            data["batch_id"], data["root"], data["leaf_hash"], data["audit_path"]
        )
    except (ValueError, KeyError, TypeError):
        return number
    verdict, computed = _record_verdict(record, leaf)
    kept = record if keep_record else None
    return (number, batch_id, index, size, leaf, root, path, kept, verdict, computed)
