"""Reading leaves: a batch's leaves, hashes and records, and finding leaves by hash or record id."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    and_,
    func,
    literal,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ledger.store.leaves.packing import unpack_records
from ledger.store.leaves.tables import (
    _IN_CHUNK,
    _LENGTH,
    HASH_BYTES,
    HOLE,
    SEGMENT_LEAVES,
    ZSTD_MAGIC,
    LeafKey,
    LeafRef,
    LeafSegment,
    RecordKey,
    StoredLeaf,
    _bulk,
    leaf_key,
    record_keys,
)
from ledger.store.models import Batch


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
    SQLite and PostgreSQL, with their batch's state; the caller confirms each against
    the full hash.

    Over a plain :class:`Connection` (``store.read()``): a single-record
    verify is one read, and an ORM session's setup and teardown cost more than it.
    """
    return _candidates(conn, LeafKey, keys)


#: PostgreSQL takes the keys as one int8 array (psycopg sends a list as one).
_PG_KEYS = "= ANY(%s::int8[])"


def _candidates(
    s: Session | Connection, table: type[LeafKey] | type[RecordKey], keys: list[int]
) -> list[Candidate]:
    """The rows of ``table`` with these keys, as :data:`Candidate` tuples."""
    if not keys:
        return []
    conn = s.connection() if isinstance(s, Session) else s
    erased = "t.erased" if table is LeafKey else "0"
    bulk = _bulk(s)
    among = "IN (SELECT value FROM json_each(?))" if bulk else _PG_KEYS
    if bulk or conn.dialect.name == "postgresql":  # the keys as one array: one statement
        sql = (
            f"SELECT t.key, b.batch_id, t.leaf_index, {erased}, "  # noqa: S608 - our names
            "b.status = 'anchored' AND b.tx_hash IS NOT NULL "
            f"FROM {table.__tablename__} t JOIN batches b ON b.batch_key = t.batch_key "
            f"WHERE t.key {among}"
        )
        array = json.dumps(keys) if bulk else keys
        rows: Iterable[Any] = conn.exec_driver_sql(sql, (array,))
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
