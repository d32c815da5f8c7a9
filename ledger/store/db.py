"""Opening the store: any SQLAlchemy URL, a SQLite file under the data dir by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ledger.errors import UnavailableError
from ledger.store.models import Base

STORE_FILE = "ledger.sqlite"
#: Pooled SQLite connections kept open (as many again may overflow).
POOL_SIZE = 40
#: Bytes per page of a new SQLite store. Large pages make the random inserts into the
#: leaf indexes (and committing them) about twice as cheap as 4 KiB ones (bench:
#: ingest of 1M records 31 s -> 23 s); records are read a segment at a time anyway.
PAGE_SIZE = 32768
#: How long a connection waits for another's write lock (SQLite ``busy_timeout``).
BUSY_TIMEOUT_MS = 30000


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / STORE_FILE).resolve()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA page_size={PAGE_SIZE}")  # takes effect only in a new file
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed batch survives power loss, not only a killed process.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # 64 MiB of page cache (allocated as used): bulk ingest keeps the leaf indexes
    # in memory instead of re-reading them for every batch.
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


class Store:
    """An engine and a session factory over one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        options: dict[str, Any] = {}
        if url.startswith("sqlite:///"):
            # The API serves from a thread pool (40 threads): with the default 5 + 10
            # connections, threads queued for one and overflow connections were opened,
            # set up and thrown away per request.
            options = {"pool_size": POOL_SIZE, "max_overflow": POOL_SIZE}
        self.engine: Engine = create_engine(url, **options)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            if inspect(self.engine).has_table("leaves"):
                raise UnavailableError(
                    "this store was written by an earlier CreditAnchor (it has a `leaves` "
                    "table); use a fresh data dir, or rebuild one from the chain and an "
                    "export with `ledger audit --rebuild URL`"
                )
            Base.metadata.create_all(self.engine)
        except OperationalError as exc:
            raise UnavailableError(
                f"cannot open the store ({self.engine.dialect.name}): {exc.orig}"
            ) from None
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def open(cls, data_dir: Path, url: str | None = None) -> Store:
        if url is None:
            data_dir.mkdir(parents=True, exist_ok=True)
        return cls(url or default_url(data_dir))

    def session(self) -> Session:
        return self.sessions()

    def close(self) -> None:
        self.engine.dispose()
