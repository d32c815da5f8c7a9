"""Opening the store: any SQLAlchemy URL, a SQLite file under the data dir by default."""

from __future__ import annotations

import functools
import select
import sqlite3
import time
from collections.abc import Callable, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ledger.errors import UnavailableError
from ledger.store import schema

if TYPE_CHECKING:
    from ledger.config import Settings

STORE_FILE = "ledger.sqlite"
#: Pooled SQLite connections kept open (as many again may overflow).
POOL_SIZE = 40
#: Bytes per page of a new SQLite store. Large pages make the random inserts into the
#: leaf indexes (and committing them) about twice as cheap as 4 KiB ones (bench:
#: ingest of 1M records 31 s -> 23 s); records are read a segment at a time anyway.
PAGE_SIZE = 65536
#: How long a connection waits for another's write lock (SQLite ``busy_timeout``), by
#: default; ``LEDGER_STORE_BUSY_TIMEOUT`` sets it (seconds).
BUSY_TIMEOUT_MS = 30000
#: A pooled PostgreSQL connection idle longer than this is pinged before it is used.
PING_AFTER_IDLE_SECONDS = 5.0


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / STORE_FILE).resolve()}"


@functools.lru_cache(maxsize=1024)  # every row count of every table
def multi_row_insert(table: str, columns: Sequence[str], rows: int, *, verb: str = "INSERT") -> str:
    """``{verb} INTO table (columns) VALUES (?, ...), ...``: ``rows`` rows of placeholders.

    One statement, one SQLite step, for many rows. Only our own identifiers go in
    (``columns`` a tuple, for the cache); every value is bound.
    """
    one = "(" + ", ".join("?" * len(columns)) + ")"
    values = ", ".join([one] * rows)
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES {values}"


#: Bound parameters a SQLite statement may hold on every version (999 before 3.32).
SQLITE_MAX_PARAMETERS = 999


def insert_many(
    conn: Connection, table: str, columns: tuple[str, ...], rows: Sequence[Sequence[object]]
) -> None:
    """Insert ``rows`` (SQLite), as many to a statement as its bound parameters allow.

    An executemany runs one SQLite step per row, and after each the storing thread
    waits to get the GIL back (on a busy submit, up to a switch interval each);
    here a statement of ~70 rows of 14 columns is one."""
    per = SQLITE_MAX_PARAMETERS // len(columns)
    for at in range(0, len(rows), per):
        chunk = rows[at : at + per]
        sql = multi_row_insert(table, columns, len(chunk))
        conn.exec_driver_sql(sql, tuple(chain.from_iterable(chunk)))


def store_unavailable(exc: OperationalError) -> UnavailableError:
    """The typed form of a database failure: locked, gone, out of space, unreachable.

    The driver's message names the condition ("database is locked", "disk I/O
    error"); SQLAlchemy's own text would add the statement, so it is left out.
    """
    lines = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    reason = (lines[0] if lines else type(exc).__name__)[:200]
    return UnavailableError(
        f"the store did not answer: {reason}",
        hint="another process may hold its write lock, or the disk is slow or full; "
        "run the command again (a submission resumes where it stopped)",
    )


def _sqlite_pragmas(busy_timeout_ms: int, dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA page_size={PAGE_SIZE}")  # takes effect only in a new file
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed batch survives power loss, not only a killed process.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    # 64 MiB of page cache (allocated as used): bulk ingest keeps the leaf indexes
    # in memory instead of re-reading them for every batch.
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def _replace_dead_connections(engine: Engine) -> None:
    """Check each pooled PostgreSQL connection at checkout, without a round trip when
    it is in steady use: a server restarted (or failed over, or an administrator) drops
    every pooled connection, and the first request after it should be answered, not
    fail (503).

    A connection the server ended has its socket readable (the server's goodbye and
    EOF; an idle healthy one has nothing to read), so it is replaced at once. One idle
    for more than :data:`PING_AFTER_IDLE_SECONDS` is also pinged: its server may be
    gone without a word (a host lost, an address moved). SQLAlchemy's ``pool_pre_ping``
    pinged at every checkout instead: one more round trip per request, about a tenth
    of a one-record verify's throughput on two workers (scripts/bench.py ``pgapi``).
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _idle(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None:  # a new connection
            return
        if dbapi_conn.closed or _readable(dbapi_conn.fileno()):
            raise DisconnectionError("the server closed this pooled connection")
        if time.monotonic() - idle_since > PING_AFTER_IDLE_SECONDS:
            try:
                dialect.do_ping(dbapi_conn)
            except dialect.loaded_dbapi.Error as exc:
                raise DisconnectionError("a pooled connection did not answer a ping") from exc


def _readable(fd: int) -> bool:
    """Whether ``fd`` has something to read, or is at its end, now (poll, not select:
    a busy server's descriptors may be numbered past select's 1024)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class Store:
    """An engine and a session factory over one database.

    A new database is made at the schema's head; one that is not at the head is
    refused (:func:`ledger.store.schema.prepare`). ``check_schema=False`` leaves the
    schema alone: for ``ledger db``, which reads and upgrades it.
    """

    def __init__(
        self, url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, check_schema: bool = True
    ) -> None:
        self.url = url
        #: How long a SQLite connection of this store waits for another's write lock.
        self.busy_timeout_ms = busy_timeout_ms
        options: dict[str, Any] = {}
        if url.startswith("sqlite:///"):
            # The API serves from a thread pool (40 threads): with the default 5 + 10
            # connections, threads queued for one and overflow connections were opened,
            # set up and thrown away per request.
            # Last in, first out: on a quiet server one connection serves request after
            # request and keeps its page cache (SQLite drops a connection's cache when
            # another connection wrote, so rotating through 40 re-read pages each time).
            options = {"pool_size": POOL_SIZE, "max_overflow": POOL_SIZE, "pool_use_lifo": True}
        self.engine: Engine = create_engine(url, **options)
        if self.engine.dialect.name == "sqlite":
            event.listen(
                self.engine, "connect", functools.partial(_sqlite_pragmas, busy_timeout_ms)
            )
        #: Where :meth:`read` connects: the same engine on SQLite; on PostgreSQL, one
        #: whose connections are in autocommit from the start (see :meth:`read`).
        self.reads: Engine = self.engine
        if self.engine.dialect.name == "postgresql":
            _replace_dead_connections(self.engine)
            # No transaction is ever open on them: nothing to roll back at checkin.
            self.reads = create_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
            _replace_dead_connections(self.reads)
        try:
            if check_schema:
                schema.prepare(self.engine)
        except OperationalError as exc:
            self.engine.dispose()
            raise UnavailableError(
                f"cannot open the store ({self.engine.dialect.name}): {exc.orig}"
            ) from None
        except BaseException:
            self.engine.dispose()  # refused: no connection of it stays open
            raise
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def open(
        cls,
        data_dir: Path,
        url: str | None = None,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        check_schema: bool = True,
    ) -> Store:
        if url is None:
            data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            url or default_url(data_dir),
            busy_timeout_ms=busy_timeout_ms,
            check_schema=check_schema,
        )

    @classmethod
    def for_settings(
        cls, settings: Settings, url: str | None = None, *, check_schema: bool = True
    ) -> Store:
        """The store ``settings`` name (``url``: another one, with the same options)."""
        busy = round(settings.store_busy_timeout * 1000)
        if url is not None:
            return cls(url, busy_timeout_ms=busy, check_schema=check_schema)
        return cls.open(
            settings.data_dir, settings.db_url, busy_timeout_ms=busy, check_schema=check_schema
        )

    def session(self) -> Session:
        return self.sessions()

    def read(self) -> Connection:
        """A connection for one read (``with store.read() as conn``), outside a transaction.

        On PostgreSQL a plain connection wraps each read in BEGIN ... ROLLBACK (two
        more round trips than the read itself), and switching a pooled connection to
        autocommit and back per read costs about as much CPU as the read's own
        execution (a one-record verify: 330 -> 250 us of the worker's CPU per read), so
        reads have an engine of their own, in autocommit. SQLite starts no
        transaction for a read: its engine serves reads too.
        """
        return self.reads.connect()

    def write_now(self, write: Callable[[Any], None]) -> bool:
        """SQLite only: ``write(dbapi_connection)`` (which commits or rolls back itself)
        without waiting for the write lock; False, with nothing written, when another
        connection holds it. For a caller that must never block (an event loop)."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA busy_timeout=0")
            try:
                write(raw)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                return False  # the connection stays usable (and keeps its cache)
            finally:
                cursor.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
                cursor.close()
            return True
        finally:
            raw.close()

    def close(self) -> None:
        self.reads.dispose()
        self.engine.dispose()


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (any extended code): another connection holds the lock."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
