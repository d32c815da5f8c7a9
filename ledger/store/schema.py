"""The store's schema revisions (Alembic, shipped in :mod:`ledger.store.migrations`) and
what opening a store makes of the revision it finds.

- A new database gets every table as the models declare them, stamped at the head
  revision (no migration runs: the models *are* the head, which a test checks).
- A store at the head opens; one at an earlier revision is refused with the command
  that upgrades it (``ledger db upgrade``, :func:`upgrade`), and one at a revision this
  release does not know (a newer release wrote it) is refused too.
- A store made before the migrations (``create_all``, no ``alembic_version`` table) is
  known by its layout. Account states indexed by their key: the layout of
  :data:`BY_KEY`, which is stamped as it is opened (its tables are that revision's,
  nothing of them changes). Indexed by the whole pseudonym: :data:`BY_PSEUDONYM`,
  refused until ``ledger db upgrade`` stamps and upgrades it. An older layout still
  (a ``leaves`` table) has no migration: rebuild it from the chain.

A store is written here only under a lock (SQLite's write lock, taken at BEGIN; a
PostgreSQL advisory lock), so that two processes opening a new store make it once.
Everything an upgrade does is one transaction on both databases.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import OperationalError

from ledger.errors import ConfigurationError, IntegrityError, LedgerError, UnavailableError
from ledger.store.models import Base

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

#: Where the revisions are (Alembic's ``script_location``): inside the package.
SCRIPTS: Final = Path(__file__).with_name("migrations")
#: The layout before account states were indexed by 60 bits of the pseudonym.
BY_PSEUDONYM: Final = "0001"
#: Account states indexed by :func:`ledger.store.accounts.account_key`: the layout
#: ``create_all`` made until the store had migrations.
BY_KEY: Final = "0002"
#: The rebuild marker table, and no statistics of erasable columns on PostgreSQL.
REBUILDS: Final = "0003"
#: The anchoring transactions of each batch (K confirmations, reorgs).
ANCHOR_TXS: Final = "0004"
#: The newest revision: what the models declare (the revisions' head, a test checks).
HEAD: Final = ANCHOR_TXS
#: Alembic's table of a store's revision (its default name) and its one column.
_VERSION_TABLE: Final = "alembic_version"
#: Held by the transaction that writes the schema on PostgreSQL ("SCHM").
SCHEMA_LOCK: Final = 0x53_43_48_4D
UPGRADE_HINT: Final = (
    "run `ledger db upgrade` with the same --data-dir or LEDGER_DB_URL, then try again"
)


def _earlier(why: str) -> UnavailableError:
    return UnavailableError(
        f"this store was written by an earlier CreditAnchor ({why}); use a fresh data "
        "dir, or rebuild one from the chain and an export with `ledger audit --rebuild URL`"
    )


@functools.cache
def scripts() -> ScriptDirectory:
    """The revisions (Alembic loaded only when a store is made, refused or upgraded)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(SCRIPTS))


def head() -> str:
    """The revision this release's models are: :data:`HEAD`."""
    return HEAD


def config(conn: Connection) -> Config:
    """Alembic's config for the store on ``conn``: the package's revisions, no ini file."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = conn
    return config


def _stamped(conn: Connection) -> str | None:
    """The revision in Alembic's table (None without one). Read directly: opening a store
    at the head loads no Alembic (a third of a second of every command's start)."""
    if not inspect(conn).has_table(_VERSION_TABLE):
        return None
    found = conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()  # noqa: S608
    if len(found) > 1:
        raise ConfigurationError(
            f"the store is stamped with several schema revisions ({', '.join(sorted(found))})",
            hint="this release keeps one line of revisions; run the release that wrote them",
        )
    return found[0] if found else None


def _stamp(conn: Connection, revision: str) -> None:
    from alembic.runtime.migration import MigrationContext

    MigrationContext.configure(conn).stamp(scripts(), revision)


def _unversioned(conn: Connection) -> str | None:
    """The revision of a store without ``alembic_version``, by its layout: None for a new
    (empty) one; a layout no revision has is refused."""
    found = inspect(conn)
    tables = set(found.get_table_names())
    if "leaves" in tables:
        raise _earlier("it has a `leaves` table")
    if not tables & set(Base.metadata.tables):
        return None
    if "account_states" in tables and "key" not in {
        column["name"] for column in found.get_columns("account_states")
    }:
        return BY_PSEUDONYM
    return BY_KEY


def _create(conn: Connection) -> None:
    """A new store's tables, stamped at the head."""
    Base.metadata.create_all(conn)
    _stamp(conn, head())


def _at(conn: Connection, *, write: bool) -> str | None:
    """The store's revision. A new store, and one made before migrations with the
    layout of :data:`BY_KEY`, are first made and stamped, when ``write``; None
    without ``write``: they need to be written first."""
    stamped = _stamped(conn)
    if stamped is not None:
        return stamped
    revision = _unversioned(conn)
    if revision == BY_PSEUDONYM:
        return revision  # written only by `ledger db upgrade`
    if not write:
        return None
    if revision is None:
        _create(conn)
        return head()
    _adopt(conn, revision)
    return revision


def _adopt(conn: Connection, revision: str) -> None:
    """Stamp a store made before the migrations at the revision its layout is, after
    making any table it lacks, as those releases did on every open. Those tables are
    as the models declare them in both such layouts: a later revision that changes
    one of them must make it here as :data:`BY_KEY` had it. (Tables added since, such
    as :data:`REBUILDS`' ``rebuilds``, are made here too; their revision makes them
    only when absent.)"""
    Base.metadata.create_all(conn)
    _stamp(conn, revision)


@contextmanager
def locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the schema's lock (what the schema is
    written under); committed at the end."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # The write lock at once (DDL included: pysqlite would otherwise run each
            # CREATE outside any transaction).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        yield conn
        conn.commit()


def known(revision: str) -> bool:
    """Whether ``revision`` is one of this release's (the head or an earlier one)."""
    from alembic.util import CommandError

    try:
        return scripts().get_revision(revision) is not None
    except CommandError:
        return False


def _newer(revision: str) -> ConfigurationError:
    return ConfigurationError(
        f"the store's schema revision {revision} is unknown to this release (a newer "
        "CreditAnchor wrote it)",
        hint="run the release that wrote it, or a later one",
    )


def _check(revision: str) -> None:
    newest = head()
    if revision == newest:
        return
    if not known(revision):
        raise _newer(revision)
    raise ConfigurationError(
        f"the store's schema is at revision {revision}, this release needs {newest}",
        hint=UPGRADE_HINT,
    )


def prepare(engine: Engine) -> None:
    """Open the store of ``engine``: make a new one at the head; refuse one that is not
    at the head (see the module's text)."""
    with engine.connect() as conn:
        revision = _at(conn, write=False)
    if revision is None:
        with locked(engine) as conn:
            revision = _at(conn, write=True)
    assert revision is not None
    _check(revision)


def current(engine: Engine) -> str | None:
    """The store's revision: stamped, or known by its layout (None: a new store)."""
    with engine.connect() as conn:
        stamped = _stamped(conn)
        return stamped if stamped is not None else _unversioned(conn)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the store to the head in one transaction: the revision it was at (None: a
    new store, made at the head) and the head."""
    from alembic import command

    with locked(engine) as conn:
        before = _stamped(conn)
        if before is None:
            before = _unversioned(conn)
            if before is None:
                _create(conn)
                return None, head()
            _adopt(conn, before)
        if not known(before):
            raise _newer(before)
        try:
            command.upgrade(config(conn), "head")
        except (LedgerError, OperationalError):
            raise
        except Exception as exc:  # rolled back: say so in one line, without the data
            raise IntegrityError(
                f"the upgrade of the store from revision {before} to {head()} failed and "
                f"changed nothing ({type(exc).__name__})",
                hint="the store holds data the revisions cannot carry over; keep it as it is",
            ) from exc
    return before, head()
