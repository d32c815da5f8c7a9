"""Export lines parsed and hashed: each line to a plain tuple, or its number when unreadable.

This is the per-line half of the records check (a million lines in a full
audit): orjson for the JSON, one regex call for all of a line's hashes, no
objects but the tuple; judging the lines (duplicates, trees, the store) is
:mod:`ledger.audit.records`'.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from ledger.errors import LedgerError
from ledger.proofs import BUNDLE_FORMAT, HASH_ALG, record_leaf_hash
from ledger.proofs.canonical import parse_json

#: A line's hashes joined (batch id, root, leaf, audit path): one regex call checks them all.
_HEX32_RUN: Final = re.compile(r"(?:0x[0-9a-f]{64})*")
_HEX32_CHARS: Final = 66
#: A line longer than a bundle may be (ledger.proofs.MAX_BUNDLE_BYTES) is not read.
MAX_LINE: Final = 1024 * 1024
#: A line's verdict on its record: none or hashing right, not canonical, another hash.
RECORD_OK, RECORD_BAD_FORM, RECORD_OTHER_HASH = 0, 1, 2

#: (line, batch id, leaf index, tree size, leaf hash, root, audit path (hashes joined),
#: record (None when absent or not kept), record verdict, computed leaf hash).
Scanned = tuple[int, str, int, int, bytes, str, bytes, "dict[str, Any] | None", int, bytes]
#: An unreadable line is its number alone.
Entry = int | Scanned


def _hashes(batch_id: Any, root: Any, leaf: Any, path: Any) -> tuple[str, str, bytes, bytes]:
    """(batch id, root, leaf hash, audit path joined) when every one is lower-case
    32-byte hex with ``0x`` (ValueError/TypeError otherwise): one regex call for all."""
    values = (batch_id, root, leaf, *path)  # TypeError when the path is not iterable
    if set(map(len, values)) != {_HEX32_CHARS}:  # TypeError for what has no length
        raise ValueError("not a 32-byte hex value")
    joined = "".join(values)  # TypeError for what is not text
    if not _HEX32_RUN.fullmatch(joined):
        raise ValueError("not a 32-byte hex value")
    # "x" is no hex digit: the replace drops only the prefixes.
    return batch_id, root, bytes.fromhex(leaf[2:]), bytes.fromhex(joined[198:].replace("0x", ""))


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


def serial_scan(path: Path, *, keep_record: bool) -> Iterator[tuple[int, Entry]]:
    """(characters read, entry) of every non-blank line, in this process."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.isspace():
                yield len(line), scan_line(number, line, keep_record=keep_record)
