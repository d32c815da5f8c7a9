"""A segment's records as one zstd frame, packed ahead on threads while earlier batches store."""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import zstandard

from ledger.store.leaves.tables import (
    _PACK_INLINE_BYTES,
    HASH_BYTES,
    PACK_THREADS,
    SEGMENT_LEAVES,
    ZSTD_LEVEL,
    ZSTD_MAGIC,
    _leaf_key_list,
    record_keys,
)

_codec = threading.local()
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _segment_columns(
    record_ids: Sequence[str | None], hashes: bytes, ends: Sequence[int]
) -> list[tuple[int, int, bytes, str, bytes]]:
    """Per segment what is stored beside its frame: segment number, size, hashes, record
    ids (JSON) and record lengths."""
    out = []
    for start in range(0, len(record_ids), SEGMENT_LEAVES):
        stop = min(start + SEGMENT_LEAVES, len(record_ids))
        first = ends[start - 1] if start else 0
        starts = [first, *ends[start : stop - 1]]
        lengths = [e - b for b, e in zip(starts, ends[start:stop], strict=True)]
        out.append(
            (
                start // SEGMENT_LEAVES,
                stop - start,
                hashes[start * HASH_BYTES : stop * HASH_BYTES],
                json.dumps(list(record_ids[start:stop]), ensure_ascii=False),
                struct.pack(f"<{stop - start}I", *lengths),
            )
        )
    return out


def pack_records(data: bytes | memoryview) -> bytes:
    """The stored form of a segment's concatenated canonical records: one zstd frame
    that records its content size (nothing, when every record is erased)."""
    if not data:
        return b""
    compressor = getattr(_codec, "compressor", None)
    if compressor is None:  # one per thread: a compressor is not safe to share
        compressor = _codec.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return compressor.compress(data)


def unpack_records(stored: bytes | None, size: int) -> bytes:
    """The concatenated canonical records of a segment, ``size`` bytes (the sum of its
    lengths), from their stored form: a zstd frame, or raw bytes (an older store).

    A frame that is corrupt, or whose declared size is not ``size`` (so nothing
    is allocated on a tampered header's word), gives b"": its leaves then read as
    empty records, which the audit reports as mismatched.
    """
    if not stored:
        return b""
    if not stored.startswith(ZSTD_MAGIC):
        return stored
    try:
        if zstandard.frame_content_size(stored) != size:
            return b""
        decompressor = getattr(_codec, "decompressor", None)
        if decompressor is None:
            decompressor = _codec.decompressor = zstandard.ZstdDecompressor()
        out = decompressor.decompress(stored)
    except zstandard.ZstdError:
        return b""
    return out if len(out) == size else b""


def _pack_all(datas: list[Any]) -> list[bytes]:
    """:func:`pack_records` of each, on :data:`PACK_THREADS` threads for a large batch."""
    if PACK_THREADS < 2 or sum(map(len, datas)) < _PACK_INLINE_BYTES:
        return [pack_records(d) for d in datas]
    return list(_packer().map(pack_records, datas))


def _segment_data(canonicals: bytes | bytearray | memoryview, ends: Sequence[int]) -> list[Any]:
    """Each segment's concatenated records, as slices of ``canonicals``."""
    out = []
    for start in range(0, len(ends), SEGMENT_LEAVES):
        stop = min(start + SEGMENT_LEAVES, len(ends))
        out.append(canonicals[ends[start - 1] if start else 0 : ends[stop - 1]])
    return out


def _packer() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(PACK_THREADS, thread_name_prefix="ledger-pack")
        return _pool


class PackedRecords:
    """A batch's leaves made ready to store on the pack threads, from the moment it is queued.

    Storing (one thread, the bottleneck of a large submission) then finds them
    done instead of doing them: the segments' frames (compressed while the GIL
    is released) and the rest of their columns, the leaf keys and the record
    keys, as JSON. Reads ``canonicals`` without copying it: the caller changes
    none of its arguments until the batch is stored.
    """

    def __init__(
        self,
        record_ids: Sequence[str],
        hashes: bytes,
        canonicals: bytes | bytearray,
        ends: Sequence[int],
    ) -> None:
        self._sizes = (len(record_ids), len(hashes), len(canonicals), len(ends))
        view, pool = memoryview(canonicals), _packer()
        self._frames = [pool.submit(pack_records, d) for d in _segment_data(view, ends)]
        self._columns = pool.submit(_segment_columns, record_ids, hashes, ends)
        self._leaf_keys = pool.submit(_leaf_keys_json, hashes)
        self._record_keys = pool.submit(_keys_and_json, record_ids)

    def fits(
        self,
        record_ids: Sequence[str | None],
        hashes: bytes,
        canonicals: bytes | bytearray,
        ends: Sequence[int],
    ) -> bool:
        """Whether these are the columns of these leaves (by size)."""
        return self._sizes == (len(record_ids), len(hashes), len(canonicals), len(ends))

    def frames(self) -> list[bytes]:
        return [f.result() for f in self._frames]

    def columns(self) -> list[tuple[int, int, bytes, str, bytes]]:
        return self._columns.result()

    def leaf_keys_json(self) -> str:
        return self._leaf_keys.result()

    def record_keys(self) -> tuple[list[int], str]:
        """The record keys (:func:`record_keys`), and the same as a JSON array."""
        return self._record_keys.result()


def _leaf_keys_json(hashes: bytes) -> str:
    return json.dumps(_leaf_key_list(hashes))


def _keys_and_json(record_ids: Sequence[str]) -> tuple[list[int], str]:
    keys = record_keys(record_ids)
    return keys, json.dumps(keys)


def pack_ahead(
    record_ids: Sequence[str], hashes: bytes, canonicals: bytes | bytearray, ends: Sequence[int]
) -> PackedRecords | None:
    """:class:`PackedRecords` of a batch large enough to go to the pack threads, else None
    (storing it makes its columns inline, as :func:`_pack_all` would)."""
    if PACK_THREADS < 2 or len(canonicals) < _PACK_INLINE_BYTES:
        return None
    return PackedRecords(record_ids, hashes, canonicals, ends)
