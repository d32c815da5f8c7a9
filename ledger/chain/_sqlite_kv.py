"""A durable key-value store for py-evm, kept in one SQLite file.

py-evm keeps the whole chain (headers, bodies, receipts, the state trie) in a
plain ``bytes -> bytes`` database. Its default is a ``dict`` that vanishes with
the process; this one survives it.

Durability model: every write goes into one open SQLite transaction, and
:meth:`SqliteKV.commit` makes it durable. The embedded backend commits right
after each block is mined, so the file always holds the chain as it stood at a
block boundary. A process killed mid-block loses that block and nothing else —
the transaction that was in it never got a receipt, so its sender retries.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from eth.db.backends.base import BaseAtomicDB

from ledger.errors import ConfigurationError

#: Written once, checked at every open: a file of another layout is refused, not guessed at.
SCHEMA_VERSION = 1


class SqliteKV(BaseAtomicDB):
    """py-evm database backed by SQLite, with explicit commits at block boundaries."""

    def __init__(self, path: Path) -> None:
        self._path = path
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so the open
        # transaction spans exactly one mined block.
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL)")
        self._conn.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        self._check_schema()
        self._conn.execute("BEGIN")

    def _check_schema(self) -> None:
        row = self._conn.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone()
        if row is None:
            self._conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif row[0] != str(SCHEMA_VERSION):
            raise ConfigurationError(
                f"embedded chain file {self._path} has layout {row[0]}, expected {SCHEMA_VERSION}",
                hint="Another CreditAnchor version wrote it; use that version or a new data dir.",
            )

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def __getitem__(self, key: bytes) -> bytes:
        row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._conn.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))

    def __delitem__(self, key: bytes) -> None:
        cur = self._conn.execute("DELETE FROM kv WHERE k = ?", (key,))
        if cur.rowcount == 0:
            raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        return self._conn.execute("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone() is not None

    def atomic_batch(self):  # type: ignore[no-untyped-def]
        # py-evm's own batch object buffers the writes and applies them here on
        # success; they then ride in the open transaction until the next commit.
        from eth.db.atomic import AtomicDBWriteBatch

        return AtomicDBWriteBatch._commit_unless_raises(self)

    def commit(self) -> None:
        """Make every write since the last commit durable, then open the next transaction."""
        self._conn.execute("COMMIT")
        self._conn.execute("BEGIN")

    def rollback(self) -> None:
        """Drop every write since the last commit."""
        self._conn.execute("ROLLBACK")
        self._conn.execute("BEGIN")

    def close(self) -> None:
        """Drop uncommitted writes and close the file."""
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
        self._conn.close()
