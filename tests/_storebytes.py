"""What a scan for personal data must read in a data dir: each file's bytes, and for a
store, its stored records decompressed (the store keeps them as zstd frames, in which a
raw value would not show as bytes)."""

from __future__ import annotations

import contextlib
import sqlite3
import struct
from pathlib import Path

import zstandard

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def stored_records(path: Path) -> bytes:
    """Every live ``leaf_segments`` row's records, decompressed here, independently of
    ``ledger.store.leaves`` (b"" for a file that is not a store)."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return b""
    try:
        rows = con.execute("SELECT lengths, canonicals FROM leaf_segments").fetchall()
    except sqlite3.DatabaseError:  # not a database, or not a store
        return b""
    finally:
        con.close()
    out = []
    for lengths, data in rows:
        size = sum(n for (n,) in struct.iter_unpack("<I", lengths or b""))
        if data and data.startswith(ZSTD_MAGIC):
            data = zstandard.ZstdDecompressor().decompress(data, max_output_size=size)
        out.append(data or b"")
    return b"".join(out)


def frames_in(data: bytes, limit: int = 1 << 20) -> bytes:
    """What every zstd frame that lies whole in ``data`` decompresses to: stale copies in
    free pages or a WAL too (a frame split across pages does not decode; the store's
    own rows are read through SQLite instead)."""
    out, at = [], data.find(ZSTD_MAGIC)
    while at >= 0:
        with contextlib.suppress(zstandard.ZstdError):
            out.append(zstandard.ZstdDecompressor().decompressobj().decompress(data[at:][:limit]))
        at = data.find(ZSTD_MAGIC, at + 1)
    return b"".join(out)


def readable_bytes(path: Path) -> bytes:
    """A file's bytes, what the whole zstd frames in them hold, and (for a store) its
    records decompressed."""
    data = path.read_bytes()
    extra = frames_in(data)
    if data.startswith(b"SQLite format 3\x00"):
        extra += stored_records(path)
    return data + extra
