"""New inquiries written from many threads in shared transactions: one commit, one fsync, for many.

A check is answered only once its inquiry is durable. :class:`GroupCommit` lets
the checks of many threads (or an event loop, through its writer thread) share
one transaction; :func:`insert_rows` writes a group, on SQLite as multi-row
statements on a plain DBAPI connection.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import insert

from ledger.store import Inquiry, Store
from ledger.store.db import multi_row_insert

#: Rows one commit of the writer thread carries at most.
MAX_GROUP: Final = 1000
Done = Callable[[BaseException | None], None]
#: Built once: a fresh ``insert()`` per commit re-derives its cache key every time.
_INSERT: Final = insert(Inquiry)
#: The columns a new inquiry's row (:meth:`~ledger.consent.inquiries.InquiryLog.row`)
#: gives, in statement order: all but the ones the store assigns and sealing fills in.
_ROW_COLUMNS: Final = tuple(
    c.name for c in Inquiry.__table__.columns if c.name not in ("seq", "batch_id", "leaf_index")
)
#: Rows per multi-row INSERT on SQLite (10 variables each, well under its 32766).
SQLITE_ROWS: Final = 500


def insert_rows(store: Store, rows: list[dict[str, Any]]) -> None:
    """Insert and commit new inquiry rows in one transaction.

    On SQLite, as one statement per 500 rows on a plain DBAPI connection: one
    SQLite step per statement instead of one per row, and no per-row parameter
    processing by SQLAlchemy.
    """
    if store.engine.dialect.name != "sqlite":
        with store.engine.begin() as conn:
            conn.execute(_INSERT, rows)
        return
    raw = store.engine.raw_connection()
    try:
        sqlite_insert_rows(raw, rows)
    except BaseException:
        raw.invalidate()  # whatever it holds is rolled back with it
        raise
    finally:
        raw.close()


def sqlite_insert_rows(raw: Any, rows: list[dict[str, Any]]) -> None:
    """:func:`insert_rows` on a SQLite DBAPI connection (rolled back if it raises)."""
    cursor = raw.cursor()
    try:
        for start in range(0, len(rows), SQLITE_ROWS):
            chunk = rows[start : start + SQLITE_ROWS]
            cursor.execute(
                multi_row_insert(Inquiry.__tablename__, _ROW_COLUMNS, len(chunk)),
                [row[c] for row in chunk for c in _ROW_COLUMNS],
            )
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        cursor.close()


class _Entry:
    __slots__ = ("done", "error", "values")

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.done = False
        self.error: BaseException | None = None


class GroupCommit:
    """Inserts inquiries from many threads in shared transactions (one fsync for many).

    Each caller queues its row and then takes the commit lock; whoever holds it
    commits every row queued so far, so a caller returns only once its own row
    is durable, and under load one commit carries many rows.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._queue: list[_Entry] = []
        self._pending: queue.SimpleQueue[tuple[dict[str, Any], Done]] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    def submit(self, values: dict[str, Any], done: Done) -> None:
        """Queue a row for the writer thread; ``done(error)`` is called once it is durable.

        For event loops: no thread is held while the commit waits, and the writer
        commits whatever queued meanwhile in one transaction.
        """
        with self._queue_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._drain, name="inquiry-writer", daemon=True
                )
                self._writer.start()
        self._pending.put((values, done))

    def _drain(self) -> None:
        while True:
            batch = [self._pending.get()]
            while len(batch) < MAX_GROUP:
                try:
                    batch.append(self._pending.get_nowait())
                except queue.Empty:
                    break
            error: BaseException | None = None
            try:
                with self._commit_lock:
                    insert_rows(self.store, [values for values, _ in batch])
            except Exception as exc:  # each waiting caller gets it
                error = exc
            for _, done in batch:
                done(error)

    def write(self, values: dict[str, Any]) -> None:
        entry = _Entry(values)
        with self._queue_lock:
            self._queue.append(entry)
        with self._commit_lock:
            if not entry.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    insert_rows(self.store, [e.values for e in batch])
                except BaseException as exc:
                    for e in batch:
                        e.error = exc
                    raise
                finally:
                    for e in batch:
                        e.done = True
        if entry.error is not None:
            raise entry.error
