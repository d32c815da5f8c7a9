"""The export-line reading (one line by the rule) against the plain reading it replaced."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ledger.audit._export_lines import (
    RECORD_BAD_FORM,
    RECORD_OK,
    RECORD_OTHER_HASH,
    _hashes,
    scan_line,
)
from ledger.audit._export_runs import Run, scan
from ledger.proofs import BUNDLE_FORMAT, HASH_ALG, record_leaf_hash

_HEX32 = re.compile(r"0x[0-9a-f]{64}")
H = "0x" + "ab" * 32


def reference_path(value: Any) -> bytes:
    out = b""
    for node in value:
        if not isinstance(node, str) or not _HEX32.fullmatch(node):
            raise ValueError(node)
        out += bytes.fromhex(node[2:])
    return out


@pytest.mark.parametrize(
    "path",
    [
        [],
        "",
        {},
        [H],
        [H, "0x" + "0" * 64, "0x" + "9" * 64],
        [H, H.upper()],
        ["0X" + "ab" * 32],
        [H[:-1] + "A"],
        [H[:-2] + " a"],
        ["0x" + "ab" * 31 + " ab"[:2]],
        [H[:-2]],
        [H + "0"],
        ["ab0x" + "ab" * 31],
        [H[:40] + "0x" + H[42:]],
        ["0x" + "é" * 64],
        ["0x" + "\u0661" * 64],  # ARABIC-INDIC DIGIT ONE: a digit, not a hex digit
        [H, 7],
        [None],
        "0x" + "ab" * 32,
        {H: 1},
    ],
)
def test_path_as_the_regex_reads_it(path: Any) -> None:
    try:
        expected: bytes | str = reference_path(path)
    except (ValueError, TypeError):
        expected = "refused"
    try:
        found: bytes | str = _hashes(H, H, H, path)[3]
    except (ValueError, TypeError):
        found = "refused"
    assert found == expected


def bundle(record: Any, **changes: Any) -> str:
    leaf = "0x" + record_leaf_hash({"a": "b"}).hex()
    body = {
        "format": BUNDLE_FORMAT, "hash_alg": HASH_ALG, "record": record, "leaf_hash": leaf,
        "leaf_index": 0, "tree_size": 1, "audit_path": [], "root": leaf, "batch_id": H,
    }  # fmt: skip
    return json.dumps(body | changes)


@pytest.mark.parametrize(
    ("line", "verdict"),
    [
        (bundle({"a": "b"}), RECORD_OK),
        (bundle(None), RECORD_OK),
        (bundle({"a": "c"}), RECORD_OTHER_HASH),
        (bundle({"a": 1.5}), RECORD_BAD_FORM),
        (bundle({"a": 2**60}), RECORD_BAD_FORM),
        (bundle({"a": 2**70}), RECORD_BAD_FORM),  # beyond orjson: the standard parser reads it
        (bundle({"a": float("nan")}), RECORD_BAD_FORM),  # NaN: json writes it, orjson refuses
        (bundle({"a": "\ud800"}), RECORD_BAD_FORM),  # a lone surrogate
    ],
)
def test_record_verdicts(line: str, verdict: int) -> None:
    entry = scan_line(3, line, keep_record=False)
    assert not isinstance(entry, int)
    assert entry[8] == verdict


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[1, 2]",
        bundle({"a": "b"}, format="other"),
        bundle({"a": "b"}, leaf_index=1),
        bundle({"a": "b"}, leaf_index=True),
        bundle({"a": "b"}, batch_id=H.upper()),
        bundle({"a": "b"}, audit_path=[H[:-1]]),
        bundle(["a"]),
        "x" * (1024 * 1024 + 1),
    ],
)
def test_unreadable_lines_are_their_number(line: str) -> None:
    assert scan_line(3, line, keep_record=False) == 3


def text_reading(path: Path) -> list[tuple[int, Any]]:
    """What the check read before: the file as UTF-8 text, universal newlines."""
    with path.open(encoding="utf-8") as fh:
        return [
            (n, scan_line(n, line, keep_record=True))
            for n, line in enumerate(fh, 1)
            if line.strip()
        ]


def test_lines_are_numbered_and_skipped_as_text_reading_does(tmp_path: Path) -> None:
    good = bundle({"a": "b"})
    other = bundle({"a": "b"}, leaf_index=0, batch_id="0x" + "cd" * 32)
    lines = [
        good + "\n",
        "\n",
        "  \t\n",
        "\x1c\x1f\n",  # whitespace to str.isspace, not to bytes.isspace
        "\u00a0\u3000\n",
        other + "\r\n",
        good + "\r" + other + "\n",  # a lone carriage return ends a line
        json.dumps({"record": {"region": "\u5317\u4eac"}}, ensure_ascii=False) + "\n",
        bundle({"a": "\u5317"}).replace("\\u5317", "\u5317") + "\r\n",
        "not json\n",
        good,  # no final newline
    ]
    path = tmp_path / "export.jsonl"
    path.write_bytes("".join(lines).encode("utf-8"))
    scanned = scanned_lines(path)
    assert [entry for _, entry in text_reading(path)] == scanned
    assert len(scanned) == 8


def scanned_lines(path: Path) -> list[Any]:
    """What :func:`scan` makes of a file, a line at a time (runs opened up)."""
    out: list[Any] = []
    for _, lines in scan(path, keep_record=True):
        out.extend(lines.entries() if isinstance(lines, Run) else [lines])
    return out


def test_bytes_that_are_not_utf8_stop_the_scan(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_bytes(bundle({"a": "b"}).encode() + b"\n" + b'{"x": "\xff"}\n')
    with pytest.raises(UnicodeDecodeError):
        list(scan(path, keep_record=False))
