"""The leaf tables, the records of a leaf as readers see them, and the 64-bit keys."""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    Text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.store.models import ERASABLE, Base

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
    record_ids: Mapped[str] = mapped_column(Text, info=ERASABLE)
    #: ``size`` little-endian uint32 lengths of the canonical records (0 once erased).
    lengths: Mapped[bytes] = mapped_column(LargeBinary)
    #: The RFC 8785 bytes of the records, salts included (what the leaves hash), concatenated.
    canonicals: Mapped[bytes] = mapped_column(LargeBinary, info=ERASABLE)


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


def _bulk(s: Session | Connection) -> bool:
    """SQLite takes keys in and out as one JSON array per statement (json_each); every
    other database the portable statements."""
    conn = s.connection() if isinstance(s, Session) else s
    return conn.dialect.name == "sqlite"
