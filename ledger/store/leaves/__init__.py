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

Writes go the database's own bulk way: on SQLite one statement per table with the
keys as a JSON array (json_each), on PostgreSQL the segments by ``COPY`` in binary
through psycopg and the keys as one int8 array a statement
(:mod:`ledger.store.leaves.copying`), each in the caller's transaction; other
databases take portable Core inserts.

Readers are defensive: a segment whose columns were tampered with gives the
leaves it can still make sense of (the audit reports the rest as missing or
mismatched) instead of an exception.
"""

from ledger.store.leaves.packing import PackedRecords, pack_ahead, pack_records, unpack_records
from ledger.store.leaves.reading import (
    Candidate,
    batch_hash_map,
    batch_hashes,
    batch_leaves,
    batch_records,
    duplicate_record_ids,
    find_by_hash,
    find_by_record_id,
    hash_candidates,
    leaf_at,
    leaf_count,
    record_count,
    scan,
)
from ledger.store.leaves.tables import (
    HASH_BYTES,
    HOLE,
    PACK_THREADS,
    SEGMENT_LEAVES,
    ZSTD_LEVEL,
    ZSTD_MAGIC,
    LeafKey,
    LeafRef,
    LeafSegment,
    RecordKey,
    StoredLeaf,
    leaf_key,
    leaf_keys,
    record_key,
    record_keys,
)
from ledger.store.leaves.writing import (
    add_batch_leaves,
    add_leaves,
    bulk,
    claim_record_keys,
    delete_batch_leaves,
    erase_leaves,
)

__all__ = [
    "HASH_BYTES",
    "HOLE",
    "PACK_THREADS",
    "SEGMENT_LEAVES",
    "ZSTD_LEVEL",
    "ZSTD_MAGIC",
    "Candidate",
    "LeafKey",
    "LeafRef",
    "LeafSegment",
    "PackedRecords",
    "RecordKey",
    "StoredLeaf",
    "add_batch_leaves",
    "add_leaves",
    "batch_hash_map",
    "batch_hashes",
    "batch_leaves",
    "batch_records",
    "bulk",
    "claim_record_keys",
    "delete_batch_leaves",
    "duplicate_record_ids",
    "erase_leaves",
    "find_by_hash",
    "find_by_record_id",
    "hash_candidates",
    "leaf_at",
    "leaf_count",
    "leaf_key",
    "leaf_keys",
    "pack_ahead",
    "pack_records",
    "record_count",
    "record_key",
    "record_keys",
    "scan",
    "unpack_records",
]
