"""Tests' access to stored leaves, including tampering as someone with database access would.

Tampering goes straight at the ``leaf_segments`` rows (bypassing
:mod:`ledger.store.leaves`), so the audit sees exactly what a changed or
deleted row would leave behind.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ledger.store import Batch, StoredLeaf, leaves
from ledger.store.leaves import HOLE, SEGMENT_LEAVES, LeafKey, LeafSegment, RecordKey
from ledger.store.models import batch_key


def all_leaves(s: Session) -> list[StoredLeaf]:
    """Every stored leaf, batch by batch (in store order), each batch in index order."""
    batch_ids = s.scalars(select(Batch.batch_id).order_by(Batch.batch_id))
    return [leaf for b in list(batch_ids) for leaf in leaves.batch_leaves(s, b)]


def _row(s: Session, batch_id: str, index: int) -> tuple[LeafSegment, int]:
    row = s.get_one(LeafSegment, (batch_id, index // SEGMENT_LEAVES))
    return row, index % SEGMENT_LEAVES


def _parts(row: LeafSegment) -> tuple[list[Any], list[bytes]]:
    ids = json.loads(row.record_ids)
    lengths = [n for (n,) in struct.iter_unpack("<I", row.lengths)]
    data = leaves.unpack_records(row.canonicals, sum(lengths))
    datas, at = [], 0
    for n in lengths:
        datas.append(data[at : at + n])
        at += n
    return ids, datas


def _write(row: LeafSegment, ids: list[Any], datas: list[bytes]) -> None:
    row.record_ids = json.dumps(ids, ensure_ascii=False)
    row.lengths = b"".join(struct.pack("<I", len(d)) for d in datas)
    row.canonicals = leaves.pack_records(b"".join(datas))


def set_canonical(s: Session, batch_id: str, index: int, data: bytes | None) -> None:
    """Replace one leaf's stored record bytes (None: as if erased, without an erasure)."""
    row, offset = _row(s, batch_id, index)
    ids, datas = _parts(row)
    datas[offset] = data or b""
    if data is None:
        ids[offset] = None
    _write(row, ids, datas)


def set_record_id(s: Session, batch_id: str, index: int, record_id: str) -> None:
    """Change one leaf's record id (its record key too, as the store keeps them together)."""
    row, offset = _row(s, batch_id, index)
    ids, datas = _parts(row)
    ids[offset] = record_id
    _write(row, ids, datas)
    bkey = batch_key(batch_id)
    s.execute(delete(RecordKey).where(RecordKey.batch_key == bkey, RecordKey.leaf_index == index))
    s.add(RecordKey(key=leaves.record_key(record_id), batch_key=bkey, leaf_index=index))


def get_canonical(s: Session, batch_id: str, index: int) -> bytes | None:
    leaf = leaves.leaf_at(s, batch_id, index)
    return None if leaf is None else leaf.canonical


def drop_leaf(s: Session, batch_id: str, index: int) -> None:
    """Delete one leaf: its segment entry becomes a hole and its keys go."""
    row, offset = _row(s, batch_id, index)
    ids, datas = _parts(row)
    ids[offset], datas[offset] = None, b""
    row.hashes = row.hashes[: offset * 32] + HOLE + row.hashes[(offset + 1) * 32 :]
    _write(row, ids, datas)
    bkey = batch_key(batch_id)
    for table in (LeafKey, RecordKey):
        s.execute(delete(table).where(table.batch_key == bkey, table.leaf_index == index))


def drop_batch_leaves(s: Session, batch_id: str) -> None:
    leaves.delete_batch_leaves(s, batch_id)


def add_extra_leaf(s: Session, batch_id: str, leaf_hash: bytes) -> int:
    """One more leaf after the last of the batch's (last) segment; returns its index."""
    row = s.scalars(
        select(LeafSegment)
        .where(LeafSegment.batch_id == batch_id)
        .order_by(LeafSegment.segment.desc())
    ).first()
    assert row is not None and row.size < SEGMENT_LEAVES
    ids, datas = _parts(row)
    index = row.segment * SEGMENT_LEAVES + row.size
    row.size += 1
    row.hashes += leaf_hash
    _write(row, [*ids, None], [*datas, b""])
    s.add(LeafKey(key=leaves.leaf_key(leaf_hash), batch_key=batch_key(batch_id), leaf_index=index))
    return index


def swap_leaves(s: Session, batch_id: str, i: int, j: int) -> None:
    """Two leaves of one segment trade places: hash, record id and record."""
    row, a = _row(s, batch_id, i)
    _, b = _row(s, batch_id, j)
    ids, datas = _parts(row)
    ids[a], ids[b] = ids[b], ids[a]
    datas[a], datas[b] = datas[b], datas[a]
    h = [row.hashes[k * 32 : (k + 1) * 32] for k in range(row.size)]
    h[a], h[b] = h[b], h[a]
    row.hashes = b"".join(h)
    _write(row, ids, datas)
