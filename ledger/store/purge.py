"""After an erasure: the erased values leave the database's files, not only its rows.

A database deletes a row by marking it; the bytes stay until something overwrites
them. What each database needs, and what this module does after the erasure's
transaction has committed:

SQLite
    ``secure_delete`` (set by the erasure's own connection) zeroes freed pages and
    cells; a ``wal_checkpoint(TRUNCATE)`` copies the log into the file and empties
    it. A reader still inside the log keeps it from being truncated.

PostgreSQL
    An UPDATE or DELETE leaves the old row version in the table's pages (a dead
    tuple, and in TOAST for large values) until a vacuum rewrites them, and a plain
    ``VACUUM`` frees the space without clearing it. ``VACUUM FULL`` writes each
    erasable table (and its TOAST and indexes) into new files and unlinks the old
    ones. The write-ahead log holds the rows as they were inserted and the pages as
    they were changed: ``pg_switch_wal()`` ends the current segment and a
    ``CHECKPOINT`` then removes every segment before it, which deletes them only
    with ``wal_recycle = off`` (otherwise they are renamed for reuse, contents
    intact). WAL archives, replication slots and ``wal_keep_size`` keep segments
    beyond the store's reach. No statistics are kept of erasable columns (see
    :data:`ledger.store.models.ERASABLE`), so ``pg_statistic`` never holds them.

What could not be done is returned, one sentence each, with what an operator runs
or sets: the caller reports it rather than pretending the files are clean.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from ledger.store.db import Store
from ledger.store.models import erasable_tables

#: How long ``VACUUM FULL`` waits for its exclusive lock before giving up (it would
#: otherwise queue every reader of the table behind a long transaction).
LOCK_TIMEOUT: Final = "30s"


def purge(store: Store, tables: Collection[str]) -> list[str]:
    """Clear the erased values of ``tables`` from the store's files; what remains, said."""
    if store.engine.dialect.name == "sqlite":
        return _sqlite(store)
    if store.engine.dialect.name == "postgresql":
        return _postgresql(store, tables)
    return [
        f"the store's database ({store.engine.dialect.name}) may keep erased values in "
        "freed pages and its log: clear them by that database's own means"
    ]


def _sqlite(store: Store) -> list[str]:
    with store.engine.connect() as c:
        busy = c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
    if busy:
        return [
            "SQLite's write-ahead log could not be truncated while another connection "
            "was reading it: it empties at the next checkpoint with no reader (stop the "
            "server and run any `ledger` command, or erase again later)"
        ]
    return []


def _postgresql(store: Store, tables: Collection[str]) -> list[str]:
    names = [t.name for t in erasable_tables() if t.name in tables]
    left: list[str] = []
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        if names:
            c.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            try:
                c.exec_driver_sql(f"VACUUM (FULL) {', '.join(names)}")
            except DBAPIError as exc:
                reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
                left.append(
                    f"the old row versions are still in the table files ({reason}): "
                    f"run `VACUUM (FULL) {', '.join(names)}` on the store's database"
                )
            finally:
                c.exec_driver_sql("RESET lock_timeout")
        left += _wal(c)
    return left


def _wal(c: Connection) -> list[str]:
    """End and remove the WAL segments that hold the erased values, when allowed to."""
    rows = c.exec_driver_sql(
        "SELECT name, setting FROM pg_settings WHERE name IN "
        "('wal_recycle', 'archive_mode', 'wal_keep_size')"
    ).all()
    settings = {str(name): str(value) for name, value in rows}
    slots = c.exec_driver_sql("SELECT count(*) FROM pg_replication_slots").scalar() or 0
    left: list[str] = []
    try:
        c.exec_driver_sql("SELECT pg_switch_wal()")
        c.exec_driver_sql("CHECKPOINT")
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        left.append(
            f"the write-ahead log still holds the erased values ({reason}): run "
            "`SELECT pg_switch_wal(); CHECKPOINT;` as a superuser, or grant the store's "
            "role pg_checkpoint and, in the store's database, EXECUTE on pg_switch_wal()"
        )
    if settings.get("wal_recycle") == "on":
        left.append(
            "removed WAL segments are recycled with their contents (wal_recycle = on): "
            "set wal_recycle = off so that a checkpoint deletes them"
        )
    if settings.get("archive_mode") not in (None, "off"):
        left.append(
            "archived WAL segments keep the erased values until the archive's retention "
            "removes them (archive_mode is on)"
        )
    if settings.get("wal_keep_size") not in (None, "0") or slots:
        left.append(
            "WAL kept for standbys (wal_keep_size or replication slots) holds the erased "
            "values until those segments are released"
        )
    return left
