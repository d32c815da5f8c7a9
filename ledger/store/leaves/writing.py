"""Writing leaves: a batch's segments and keys in bulk (SQLite's json_each, PostgreSQL's
COPY) or portably, erasure, deletion."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import accumulate, chain
from typing import Final

from sqlalchemy import (
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from ledger.store import pgcopy
from ledger.store.db import multi_row_insert
from ledger.store.leaves import copying
from ledger.store.leaves.packing import (
    PackedRecords,
    _leaf_keys_json,
    _pack_all,
    _segment_columns,
    _segment_data,
    pack_records,
)
from ledger.store.leaves.reading import _ids, _split
from ledger.store.leaves.tables import (
    _LENGTH,
    HASH_BYTES,
    HOLE,
    SEGMENT_LEAVES,
    LeafKey,
    LeafSegment,
    RecordKey,
    StoredLeaf,
    _bulk,
    _leaf_key_list,
    record_keys,
)
from ledger.store.models import Batch, batch_key


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
    if pgcopy.copies(s):
        copying.insert_leaf_keys(
            s, bkey, packed.leaf_keys_json() if packed else _leaf_keys_json(hashes)
        )
        if not keys_claimed:
            copying.insert_record_keys(s, bkey, json.dumps(keys))
        return
    if keys_claimed:
        raise ValueError("record keys are claimed only in a SQLite or PostgreSQL store")
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
    record ids are distinct. SQLite and PostgreSQL stores only (:func:`bulk`); call
    it before the batch row is added. ``keys_json``: ``keys`` as a JSON array, when
    made already (both statements take them so).
    """
    bkey = batch_key(batch_id)
    if s.scalar(select(Batch.batch_key).where(Batch.batch_key == bkey)) is not None:
        return False  # a batch has this key (1 in 2**64): the rows below would mix with its own
    if keys_json is None:
        keys_json = json.dumps(list(keys))
    if pgcopy.copies(s):
        return copying.claim_record_keys(s, bkey, keys_json, len(keys))
    conn = s.connection()
    inserted = conn.exec_driver_sql(_CLAIM_RECORD_KEYS, (bkey, keys_json)).rowcount
    if inserted == len(keys):
        return True
    conn.exec_driver_sql("DELETE FROM record_keys WHERE batch_key = ?", (bkey,))
    return False


def bulk(s: Session) -> bool:
    """Whether this session's store takes the bulk statements: SQLite's (json_each) or
    PostgreSQL's (COPY, key arrays); :func:`claim_record_keys` is for these stores."""
    return _bulk(s) or pgcopy.copies(s)


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
    if pgcopy.copies(s):
        copying.copy_segments(s, _SEGMENT_COLUMNS, segments)
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


#: 7 values a row: 896 a statement, under the 999 bound parameters even SQLite
#: before 3.32 allows. A 10000-leaf batch (79 segments) is one statement.
_SEGMENTS_PER_INSERT: Final = 128
_SEGMENT_COLUMNS: Final = (
    "batch_id", "segment", "size", "hashes", "record_ids", "lengths", "canonicals",
)  # fmt: skip


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
