"""Leaves: every batch's records (desensitised, salted) and leaf hashes, and how to find them.

One interface for everything that reads or writes leaves; no other module
touches these tables.

Layout, chosen for bulk ingest (a million leaves a run) on SQLite:

* ``leaf_segments`` — per batch, rows of up to :data:`SEGMENT_LEAVES`
  consecutive leaves: their hashes (32 bytes each), record ids (a JSON list),
  canonical-record lengths and the canonical bytes themselves, concatenated.
  A leaf is addressed by (batch id, leaf index). One row per 128 leaves
  writes the data once, in large pieces, instead of a B-tree row per leaf.
  The canonical bytes are stored as one zstd frame (:func:`pack_records`): the
  records of a segment share every key name and most values' shapes, so they
  shrink ~5.6x, and a 1M-record store is ~300 MB instead of ~1.1 GB. A store
  written before that holds them raw; readers take both (a record starts with
  ``{``, a frame with :data:`ZSTD_MAGIC`).
* ``leaf_keys`` and ``record_keys`` — (key, batch key, leaf index) with the
  key a signed 64-bit prefix of the leaf hash, or of SHA-256 of the record id,
  and the batch key the same prefix of the batch id. Small integer keys keep
  both indexes compact; every match is confirmed against the full value in its
  segment, so a prefix collision costs a look, never a wrong answer.

Erasure (PIPL Art. 47) drops a leaf's record id and canonical bytes (length 0)
and its record key, and flags its leaf key; its hash stays, so the batch tree
and every other leaf's proof still hold. A leaf the store does not have (an
auditor's rebuilt store lacks what the export lacked) is a hole: an all-zero
hash, no keys, and readers skip it.

Readers are defensive: a segment whose columns were tampered with gives the
leaves it can still make sense of (the audit reports the rest as missing or
mismatched) instead of an exception.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import accumulate, chain
from typing import Any, Final

import zstandard
from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    Text,
    and_,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.store.db import multi_row_insert
from ledger.store.models import Base, Batch, batch_key

#: Leaves per segment row: large enough to write in big pieces, small enough that
#: reading one record (a bundle) reads ~100 KB.
SEGMENT_LEAVES: Final = 128
HASH_BYTES: Final = 32
#: The hash of a hole (no leaf stored at that index).
HOLE: Final = bytes(HASH_BYTES)
#: Keys looked up per query on databases without json_each (bound-parameter limits).
_IN_CHUNK: Final = 500
_LENGTH = struct.Struct("<I")
#: How a zstd frame starts (RFC 8878 §3.1.1); stored raw records start with ``{``.
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
#: zstd level 1: on these records ~5.6x smaller at ~350 MB/s a core; level 3 is no
#: smaller and a third slower, negative levels are faster but ~3.4x.
ZSTD_LEVEL: Final = 1
#: Threads that compress a batch's segments (zstandard releases the GIL while it works).
PACK_THREADS: Final = min(os.cpu_count() or 1, 4)
#: A batch's records below this many bytes are compressed in the calling thread.
_PACK_INLINE_BYTES: Final = 1 << 20


class LeafSegment(Base):
    """Up to SEGMENT_LEAVES consecutive leaves of one batch."""

    __tablename__ = "leaf_segments"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), primary_key=True)
    #: Leaf index // SEGMENT_LEAVES.
    segment: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    #: ``size`` leaf hashes, 32 bytes each.
    hashes: Mapped[bytes] = mapped_column(LargeBinary)
    #: JSON list of ``size`` record ids (null once erased).
    record_ids: Mapped[str] = mapped_column(Text)
    #: ``size`` little-endian uint32 lengths of the canonical records (0 once erased).
    lengths: Mapped[bytes] = mapped_column(LargeBinary)
    #: The RFC 8785 bytes of the records, salts included (what the leaves hash), concatenated.
    canonicals: Mapped[bytes] = mapped_column(LargeBinary)


class LeafKey(Base):
    """Find leaves by hash: a 64-bit prefix of the leaf hash -> (batch, index)."""

    __tablename__ = "leaf_keys"
    # SQLite keeps the table as its primary-key B-tree only (no rowid tree beside it).
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy reads it

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    batch_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    erased: Mapped[bool] = mapped_column(Boolean, default=False)


class RecordKey(Base):
    """Find leaves by record id: a 64-bit prefix of SHA-256(record id) -> (batch, index)."""

    __tablename__ = "record_keys"
    # SQLite keeps the table as its primary-key B-tree only (no rowid tree beside it).
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy reads it

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    batch_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


@dataclass(frozen=True, slots=True)
class StoredLeaf:
    """One leaf as stored; ``record_id`` and ``canonical`` are None once erased."""

    batch_id: str
    leaf_index: int
    record_id: str | None
    leaf_hash: bytes
    canonical: bytes | None

    @property
    def erased(self) -> bool:
        return self.canonical is None


@dataclass(frozen=True, slots=True)
class LeafRef:
    """Where a leaf is, and whether its record was erased."""

    batch_id: str
    leaf_index: int
    erased: bool = False


def leaf_key(leaf_hash: bytes) -> int:
    return int.from_bytes(leaf_hash[:8], "big", signed=True)


def record_key(record_id: str) -> int:
    digest = hashlib.sha256(record_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def record_keys(record_ids: Sequence[str]) -> list[int]:
    """:func:`record_key` of each id: the digests joined, their first 8 bytes unpacked at once."""
    sha256 = hashlib.sha256
    digests = b"".join([sha256(r.encode("utf-8", "surrogatepass")).digest() for r in record_ids])
    return leaf_keys(digests)


def leaf_keys(hashes: bytes) -> list[int]:
    """:func:`leaf_key` of each 32-byte hash in ``hashes``."""
    return [k for (k,) in struct.iter_unpack(">q24x", hashes)]


def _leaf_key_list(hashes: bytes) -> list[int | None]:
    """:func:`leaf_keys`, with None for a hole (a hole's key is 0, so only then compare)."""
    return [
        k if k or hashes[i * HASH_BYTES : (i + 1) * HASH_BYTES] != HOLE else None
        for i, k in enumerate(leaf_keys(hashes))
    ]


def _bulk(s: Session) -> bool:
    """SQLite takes keys in and out as one JSON array per statement (json_each); every
    other database the portable statements."""
    return s.connection().dialect.name == "sqlite"


# ---------------------------------------------------------------- writing


def add_batch_leaves(
    s: Session,
    batch_id: str,
    record_ids: Sequence[str | None],
    hashes: bytes,
    canonicals: bytes | bytearray,
    ends: Sequence[int],
    *,
    keys: Sequence[int | None] | None = None,
    keys_claimed: bool = False,
    packed: PackedRecords | None = None,
) -> None:
    """Store a batch's leaves: ``hashes`` (32 bytes each), their canonical records
    concatenated in ``canonicals`` with leaf i ending at ``ends[i]`` (an erased
    leaf: None record id, zero length). ``keys`` are the record keys of
    ``record_ids`` when the caller has them already; ``keys_claimed``: they are
    stored already (:func:`claim_record_keys`); ``packed``: the segments'
    columns, made since before (:class:`PackedRecords` of these leaves). The
    caller's transaction commits it all."""
    n = len(record_ids)
    if len(hashes) != HASH_BYTES * n or len(ends) != n or (n and ends[-1] != len(canonicals)):
        raise ValueError("leaf columns of different lengths")
    if keys is None:
        keys = _record_keys_of(record_ids)
    elif len(keys) != n:
        raise ValueError("leaf columns of different lengths")
    _insert_segments(s, batch_id, record_ids, hashes, canonicals, ends, packed)
    bkey = batch_key(batch_id)
    if _bulk(s):  # one statement per table, keys in order: no per-row binding
        conn = s.connection()
        lkeys_json = packed.leaf_keys_json() if packed else _leaf_keys_json(hashes)
        conn.exec_driver_sql(_BULK_LEAF_KEYS, (bkey, lkeys_json))
        if not keys_claimed:
            conn.exec_driver_sql(_BULK_RECORD_KEYS, (bkey, json.dumps(keys)))
        return
    if keys_claimed:
        raise ValueError("record keys are claimed only in a SQLite store")
    lkeys = _leaf_key_list(hashes)
    rows = [
        {"key": k, "batch_key": bkey, "leaf_index": i} for i, k in enumerate(lkeys) if k is not None
    ]
    if rows:
        s.execute(insert(LeafKey), [r | {"erased": False} for r in rows])
    rows = [
        {"key": k, "batch_key": bkey, "leaf_index": i} for i, k in enumerate(keys) if k is not None
    ]
    if rows:
        s.execute(insert(RecordKey), rows)


#: json_each's ``key`` is the array position, i.e. the leaf index; sorted by key, the
#: inserts walk each index B-tree in order instead of jumping around it.
#: OR FAIL: a conflict still raises (and the caller's transaction rolls back), but
#: SQLite keeps no statement journal for undoing the statement alone. With the
#: default (ABORT) it copied every index page each insert touched to a temp file
#: first: 2.2 GB of temp-file writes for a 1M-row submission.
_BULK_LEAF_KEYS: Final = (
    "INSERT OR FAIL INTO leaf_keys (key, batch_key, leaf_index, erased) "
    "SELECT value, ?, key, 0 FROM json_each(?) WHERE value IS NOT NULL ORDER BY value"
)
_BULK_RECORD_KEYS: Final = (
    "INSERT OR FAIL INTO record_keys (key, batch_key, leaf_index) "
    "SELECT value, ?, key FROM json_each(?) WHERE value IS NOT NULL ORDER BY value"
)


_CLAIM_RECORD_KEYS: Final = (
    "INSERT OR FAIL INTO record_keys (key, batch_key, leaf_index) "
    "SELECT j.value, ?, j.key FROM json_each(?) j "
    "WHERE NOT EXISTS (SELECT 1 FROM record_keys r WHERE r.key = j.value) ORDER BY j.value"
)


def claim_record_keys(
    s: Session, batch_id: str, keys: Sequence[int], *, keys_json: str | None = None
) -> bool:
    """Store the record keys of a new batch's leaves 0.., if no stored leaf has any of them.

    The duplicate check of a submission, folded into the insert that follows it
    anyway: the probe for a stored key walks the B-tree pages the insert then
    writes. False (and nothing stored) when a key is taken, by a duplicate record
    id or, one time in 2**64, another id with the same key: the caller then looks
    the ids up (:func:`find_by_record_id`) and stores what is new. Keys repeated
    among ``keys`` are not checked against each other: the caller checks that its
    record ids are distinct. SQLite stores only (:func:`bulk`); call it before
    the batch row is added. ``keys_json``: ``keys`` as a JSON array, when made already.
    """
    conn = s.connection()
    bkey = batch_key(batch_id)
    if conn.exec_driver_sql("SELECT 1 FROM batches WHERE batch_key = ?", (bkey,)).first():
        return False  # a batch has this key (1 in 2**64): the rows below would mix with its own
    if keys_json is None:
        keys_json = json.dumps(list(keys))
    inserted = conn.exec_driver_sql(_CLAIM_RECORD_KEYS, (bkey, keys_json)).rowcount
    if inserted == len(keys):
        return True
    conn.exec_driver_sql("DELETE FROM record_keys WHERE batch_key = ?", (bkey,))
    return False


def bulk(s: Session) -> bool:
    """Whether this session's store takes the SQLite bulk statements (json_each)."""
    return _bulk(s)


def _record_keys_of(record_ids: Sequence[str | None]) -> list[int | None]:
    present = [r for r in record_ids if r is not None]
    found = iter(record_keys(present))
    return [None if r is None else next(found) for r in record_ids]


def _insert_segments(
    s: Session,
    batch_id: str,
    record_ids: Sequence[str | None],
    hashes: bytes,
    canonicals: bytes | bytearray,
    ends: Sequence[int],
    packed: PackedRecords | None = None,
) -> None:
    if packed is not None and not packed.fits(record_ids, hashes, canonicals, ends):
        raise ValueError("packed records of other leaves")
    if packed is not None:
        frames, columns = packed.frames(), packed.columns()
    else:
        frames = _pack_all(_segment_data(canonicals, ends))
        columns = _segment_columns(record_ids, hashes, ends)
    segments = [(batch_id, *c, f) for c, f in zip(columns, frames, strict=True)]
    if not segments:
        return
    if _bulk(s):  # straight to the driver: ORM inserts copy ~10 MB of blobs per batch
        conn = s.connection()
        # Many rows per statement: each statement is one wait to get the GIL back
        # after SQLite ran (on a busy submit, up to a switch interval each).
        for at in range(0, len(segments), _SEGMENTS_PER_INSERT):
            rows = segments[at : at + _SEGMENTS_PER_INSERT]
            sql = multi_row_insert(
                LeafSegment.__tablename__, _SEGMENT_COLUMNS, len(rows), verb="INSERT OR FAIL"
            )
            conn.exec_driver_sql(sql, tuple(chain(*rows)))
        return
    s.execute(
        insert(LeafSegment), [dict(zip(_SEGMENT_COLUMNS, row, strict=True)) for row in segments]
    )


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


#: 7 values a row: 896 a statement, under the 999 bound parameters even SQLite
#: before 3.32 allows. A 10000-leaf batch (79 segments) is one statement.
_SEGMENTS_PER_INSERT: Final = 128
_SEGMENT_COLUMNS: Final = (
    "batch_id", "segment", "size", "hashes", "record_ids", "lengths", "canonicals",
)  # fmt: skip


_codec = threading.local()
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


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


def add_leaves(s: Session, batch_id: str, leaves: Iterable[StoredLeaf]) -> None:
    """Store these leaves of ``batch_id``; indexes not among them up to the last are holes."""
    by_index = {leaf.leaf_index: leaf for leaf in leaves}
    size = max(by_index, default=-1) + 1
    row = [by_index.get(i) for i in range(size)]
    datas = [b"" if leaf is None or leaf.canonical is None else leaf.canonical for leaf in row]
    add_batch_leaves(
        s,
        batch_id,
        [None if leaf is None else leaf.record_id for leaf in row],
        b"".join(HOLE if leaf is None else leaf.leaf_hash for leaf in row),
        b"".join(datas),
        list(accumulate(map(len, datas))),
    )


def erase_leaves(s: Session, refs: Iterable[tuple[str, int]]) -> int:
    """Drop the records, salts and record ids of these leaves; their hashes stay."""
    by_segment: dict[tuple[str, int], set[int]] = defaultdict(set)
    for batch_id, index in refs:
        by_segment[(batch_id, index // SEGMENT_LEAVES)].add(index % SEGMENT_LEAVES)
    erased = 0
    for (batch_id, segment), offsets in by_segment.items():
        row = s.get(LeafSegment, (batch_id, segment))
        if row is None:
            continue
        ids, datas = _ids(row), _split(row)
        for offset in offsets:
            if offset < row.size and datas[offset] is not None:
                ids[offset], datas[offset] = None, None
                erased += 1
        row.record_ids = json.dumps(ids, ensure_ascii=False)
        row.lengths = b"".join(_LENGTH.pack(len(d or b"")) for d in datas)
        row.canonicals = pack_records(b"".join(d or b"" for d in datas))
        indexes = [segment * SEGMENT_LEAVES + o for o in offsets]
        bkey = batch_key(batch_id)
        s.execute(
            update(LeafKey)
            .where(LeafKey.batch_key == bkey, LeafKey.leaf_index.in_(indexes))
            .values(erased=True)
        )
        s.execute(
            delete(RecordKey).where(RecordKey.batch_key == bkey, RecordKey.leaf_index.in_(indexes))
        )
    s.flush()
    return erased


def delete_batch_leaves(s: Session, batch_id: str) -> None:
    """Remove every leaf of a batch (the batch row is the caller's)."""
    bkey = batch_key(batch_id)
    s.execute(delete(LeafSegment).where(LeafSegment.batch_id == batch_id))
    s.execute(delete(LeafKey).where(LeafKey.batch_key == bkey))
    s.execute(delete(RecordKey).where(RecordKey.batch_key == bkey))


# ---------------------------------------------------------------- reading


def _split(row: LeafSegment) -> list[bytes | None]:
    """The canonical records of a segment row (None where erased), ``size`` of them."""
    return _records(row.size, row.lengths, row.canonicals)


def _lengths(lengths: bytes | None) -> list[int]:
    """A segment's record lengths (a stray trailing byte left out)."""
    lengths = lengths or b""
    return [n for (n,) in _LENGTH.iter_unpack(lengths[: len(lengths) // 4 * 4])]


def _records(size: int, lengths: bytes | None, canonicals: bytes | None) -> list[bytes | None]:
    counts = _lengths(lengths)
    data = unpack_records(canonicals, sum(counts))
    out: list[bytes | None] = []
    at = 0
    for length in counts:
        out.append(data[at : at + length] if length else None)
        at += length
    return (out + [None] * size)[:size]


def _ids(row: LeafSegment) -> list[str | None]:
    return _id_list(row.size, row.record_ids)


def _id_list(size: int, record_ids: str | None) -> list[str | None]:
    """A segment's record ids, ``size`` of them (None where erased or unreadable)."""
    try:
        ids = json.loads(record_ids) if record_ids else []
    except (TypeError, ValueError):
        ids = []
    if not isinstance(ids, list):
        ids = []
    ids = [i if isinstance(i, str) else None for i in ids]
    return (ids + [None] * size)[:size]


def _leaves_of(row: LeafSegment) -> Iterator[StoredLeaf]:
    """The leaves of a segment row, holes (and what tampering left unreadable) skipped."""
    base = row.segment * SEGMENT_LEAVES
    for offset, (rid, data) in enumerate(zip(_ids(row), _split(row), strict=True)):
        h = (row.hashes or b"")[offset * HASH_BYTES : (offset + 1) * HASH_BYTES]
        if len(h) == HASH_BYTES and h != HOLE:
            yield StoredLeaf(row.batch_id, base + offset, rid, h, data)


def batch_leaves(s: Session, batch_id: str) -> list[StoredLeaf]:
    """Every leaf of a batch, in index order."""
    rows = s.scalars(
        select(LeafSegment).where(LeafSegment.batch_id == batch_id).order_by(LeafSegment.segment)
    )
    return [leaf for row in rows for leaf in _leaves_of(row)]


def _hashes_of(base: int, size: int, hashes: bytes | None) -> Iterator[tuple[int, bytes]]:
    """(leaf index, hash) of a segment's hashes column, holes and short hashes skipped."""
    blob = hashes or b""
    for offset in range(min(size, len(blob) // HASH_BYTES)):
        h = blob[offset * HASH_BYTES : (offset + 1) * HASH_BYTES]
        if h != HOLE:
            yield base + offset, h


def batch_hash_map(s: Session, batch_id: str) -> dict[int, bytes]:
    """Leaf index -> hash of every leaf of a batch: :func:`batch_leaves` without the
    records (one column read; no record ids parsed, no leaf objects made)."""
    rows = s.execute(
        select(LeafSegment.segment, LeafSegment.size, LeafSegment.hashes)
        .where(LeafSegment.batch_id == batch_id)
        .order_by(LeafSegment.segment)
    )
    out: dict[int, bytes] = {}
    for segment, size, hashes in rows:
        if size < 0:  # a tampered size: read the row as batch_leaves does
            out |= {x.leaf_index: x.leaf_hash for x in _odd_segment(s, batch_id, segment)}
        else:
            out.update(_hashes_of(segment * SEGMENT_LEAVES, size, hashes))
    return out


def _odd_segment(s: Session, batch_id: str, segment: int) -> Iterator[StoredLeaf]:
    row = s.get(LeafSegment, (batch_id, segment))
    return iter(()) if row is None else _leaves_of(row)


def batch_records(
    s: Session, batch_id: str
) -> Iterator[tuple[int, bytes, str | None, bytes | None]]:
    """(leaf index, hash, record id, canonical record) of every leaf of a batch, in index
    order, record id and record None once erased: the leaves :func:`batch_leaves` gives,
    as plain tuples."""
    rows = s.execute(
        select(
            LeafSegment.segment, LeafSegment.size, LeafSegment.hashes,
            LeafSegment.record_ids, LeafSegment.lengths, LeafSegment.canonicals,
        )
        .where(LeafSegment.batch_id == batch_id)
        .order_by(LeafSegment.segment)
    )  # fmt: skip
    for segment, size, hashes, record_ids, lengths, canonicals in rows:
        if size < 0:  # a tampered size: read the row as batch_leaves does
            yield from ((x.leaf_index, x.leaf_hash, x.record_id, x.canonical)
                        for x in _odd_segment(s, batch_id, segment))  # fmt: skip
            continue
        datas = _records(size, lengths, canonicals)
        ids = _id_list(size, record_ids)
        for index, h in _hashes_of(segment * SEGMENT_LEAVES, size, hashes):
            offset = index % SEGMENT_LEAVES
            yield index, h, ids[offset], datas[offset]


def batch_hashes(s: Session, batch_id: str) -> list[bytes]:
    """The leaf hashes of a batch, in index order (the tree's leaves)."""
    blobs = s.scalars(
        select(LeafSegment.hashes)
        .where(LeafSegment.batch_id == batch_id)
        .order_by(LeafSegment.segment)
    )
    joined = b"".join(blobs)
    return [
        joined[i : i + HASH_BYTES]
        for i in range(0, len(joined) // HASH_BYTES * HASH_BYTES, HASH_BYTES)
    ]


def leaf_at(s: Session, batch_id: str, index: int) -> StoredLeaf | None:
    if index < 0:
        return None
    row = s.get(LeafSegment, (batch_id, index // SEGMENT_LEAVES))
    if row is None:
        return None
    return next((leaf for leaf in _leaves_of(row) if leaf.leaf_index == index), None)


def _segment_hashes(s: Session, wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
    """(batch id, leaf index) -> stored leaf hash, reading each needed segment once."""
    segments: dict[tuple[str, int], bytes] = {}
    out = {}
    for batch_id, index in wanted:
        where = (batch_id, index // SEGMENT_LEAVES)
        if where not in segments:
            segments[where] = (
                s.scalar(
                    select(LeafSegment.hashes).where(
                        LeafSegment.batch_id == batch_id, LeafSegment.segment == where[1]
                    )
                )
                or b""
            )
        offset = (index % SEGMENT_LEAVES) * HASH_BYTES
        out[(batch_id, index)] = segments[where][offset : offset + HASH_BYTES]
    return out


#: A leaf a key points to: (key, batch id, leaf index, erased, batch anchored).
Candidate = tuple[int, str, int, bool, bool]


def hash_candidates(conn: Connection, keys: list[int]) -> list[Candidate]:
    """The leaves whose hash has one of these keys (:func:`leaf_key`), in one query on
    SQLite, with their batch's state; the caller confirms each against the full hash.

    Over a plain :class:`Connection` (``store.engine.connect()``): a single-record
    verify is one read, and an ORM session's setup and teardown cost more than it.
    """
    return _candidates(conn, LeafKey, keys)


def _candidates(
    s: Session | Connection, table: type[LeafKey] | type[RecordKey], keys: list[int]
) -> list[Candidate]:
    """The rows of ``table`` with these keys, as :data:`Candidate` tuples."""
    if not keys:
        return []
    conn = s.connection() if isinstance(s, Session) else s
    erased = "t.erased" if table is LeafKey else "0"
    if conn.dialect.name == "sqlite":  # the keys as one JSON array: one statement
        sql = (
            f"SELECT t.key, b.batch_id, t.leaf_index, {erased}, "  # noqa: S608 - our names
            "b.status = 'anchored' AND b.tx_hash IS NOT NULL "
            f"FROM {table.__tablename__} t JOIN batches b ON b.batch_key = t.batch_key "
            "WHERE t.key IN (SELECT value FROM json_each(?))"
        )
        rows: Iterable[Any] = conn.exec_driver_sql(sql, (json.dumps(keys),))
    else:
        flag = LeafKey.erased if table is LeafKey else literal(False)
        anchored = and_(Batch.status == "anchored", Batch.tx_hash.is_not(None))
        query = select(table.key, Batch.batch_id, table.leaf_index, flag, anchored).join(
            Batch, Batch.batch_key == table.batch_key
        )
        rows = [
            row
            for start in range(0, len(keys), _IN_CHUNK)
            for row in conn.execute(query.where(table.key.in_(keys[start : start + _IN_CHUNK])))
        ]
    return [(int(k), str(b), int(i), bool(e), bool(a)) for k, b, i, e, a in rows]


def find_by_hash(s: Session, hashes: Iterable[bytes]) -> dict[bytes, list[LeafRef]]:
    """Leaf hash -> where it is stored (confirmed against the full hash)."""
    wanted: dict[int, list[bytes]] = defaultdict(list)
    for h in dict.fromkeys(hashes):
        wanted[leaf_key(h)].append(h)
    found = _candidates(s, LeafKey, list(wanted))
    stored = _segment_hashes(s, [(b, i) for _, b, i, _, _ in found])
    out: dict[bytes, list[LeafRef]] = defaultdict(list)
    for key, batch_id, index, erased, _ in found:
        digest = stored[(batch_id, index)]
        if digest in wanted[key]:
            out[digest].append(LeafRef(batch_id, index, erased))
    return dict(out)


def find_by_record_id(
    s: Session, record_ids: Iterable[str], *, keys: Sequence[int] | None = None
) -> dict[str, list[LeafRef]]:
    """Record id -> the (not erased) leaves holding it, confirmed against the stored id.

    ``keys``: the record keys of ``record_ids`` (same order), when the caller has them.
    """
    ids = list(record_ids)
    key_list = record_keys(ids) if keys is None else list(keys)
    if len(key_list) != len(ids):
        raise ValueError("record ids and keys of different lengths")
    by_key = dict(zip(key_list, ids, strict=True))
    wanted: dict[int, list[str]] = {k: [rid] for k, rid in by_key.items()}
    if len(by_key) < len(set(ids)):  # two different ids with one key (1 in 2**64 a pair)
        wanted = defaultdict(list)
        for key, rid in zip(key_list, ids, strict=True):
            if rid not in wanted[key]:
                wanted[key].append(rid)
    found = _candidates(s, RecordKey, list(wanted))
    stored_ids = _stored_ids(s, [(b, i) for _, b, i, _, _ in found])
    out: dict[str, list[LeafRef]] = defaultdict(list)
    for key, batch_id, index, _, _ in found:
        stored = stored_ids.get((batch_id, index))
        if stored is not None and stored in wanted[key]:
            out[stored].append(LeafRef(batch_id, index))
    return dict(out)


def _stored_ids(s: Session, wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str | None]:
    segments: dict[tuple[str, int], list[str | None]] = {}
    out = {}
    for batch_id, index in wanted:
        where = (batch_id, index // SEGMENT_LEAVES)
        if where not in segments:
            text = s.scalar(
                select(LeafSegment.record_ids).where(
                    LeafSegment.batch_id == batch_id, LeafSegment.segment == where[1]
                )
            )
            try:
                segments[where] = list(json.loads(text)) if text else []
            except (TypeError, ValueError):
                segments[where] = []
        ids = segments[where]
        offset = index % SEGMENT_LEAVES
        rid = ids[offset] if offset < len(ids) else None
        out[(batch_id, index)] = rid if isinstance(rid, str) else None
    return out


def scan(s: Session, needle: bytes, *, kind: int | None = None) -> Iterator[StoredLeaf]:
    """Leaves whose canonical bytes contain ``needle`` (a full scan, for erasure)."""
    query = select(LeafSegment)
    if kind is not None:
        query = query.join(Batch, Batch.batch_id == LeafSegment.batch_id).where(Batch.kind == kind)
    if s.connection().dialect.name == "sqlite":  # raw segments only where they hold it
        query = query.where(
            (func.instr(LeafSegment.canonicals, ZSTD_MAGIC) == 1)
            | (func.instr(LeafSegment.canonicals, needle) > 0)
        )
    for row in s.scalars(query.execution_options(yield_per=64)):
        # A frame cannot be searched in SQL: look in its records before making leaves.
        if needle not in unpack_records(row.canonicals, sum(_lengths(row.lengths))):
            continue
        for leaf in _leaves_of(row):
            if leaf.canonical is not None and needle in leaf.canonical:
                yield leaf


def leaf_count(s: Session) -> int:
    return int(s.scalar(select(func.coalesce(func.sum(LeafSegment.size), 0))) or 0)


def record_count(s: Session) -> int:
    """Leaves that still hold a record (not erased)."""
    return int(s.scalar(select(func.count()).select_from(RecordKey)) or 0)


def duplicate_record_ids(s: Session) -> dict[str, list[LeafRef]]:
    """Record ids stored in more than one leaf."""
    keys = list(s.scalars(select(RecordKey.key).group_by(RecordKey.key).having(func.count() > 1)))
    found = _candidates(s, RecordKey, keys)
    ids = _stored_ids(s, [(b, i) for _, b, i, _, _ in found])
    out: dict[str, list[LeafRef]] = defaultdict(list)
    for _, batch_id, index, _, _ in found:
        if (rid := ids.get((batch_id, index))) is not None:
            out[rid].append(LeafRef(batch_id, index))
    return {rid: refs for rid, refs in out.items() if len(refs) > 1}
