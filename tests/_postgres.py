"""A throw-away PostgreSQL cluster per pytest worker, and a fresh database per test.

The store is "any SQLAlchemy URL": its tests run on SQLite and on a real
PostgreSQL server (Debian's ``postgresql`` package; ``make postgres`` installs it).
Each worker makes its own cluster (``scripts/pgcluster.py``: ``initdb`` in a temp
dir, ``pg_ctl`` listening only on a unix socket in that dir, no port to collide on)
and stops it when the session ends. Durability is switched off (fsync, full page
writes): the cluster lives for one test run. Missing server binaries fail the
test that needs them with the command that installs them; nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from ledger.store.db import default_url
from scripts import pgcluster
from scripts.pgcluster import SUPERUSER, Cluster, ClusterError

__all__ = ["DATABASES", "SUPERUSER", "Cluster", "start_cluster"]

#: The database parameter of store tests: the same test on each.
DATABASES = ("sqlite", "postgresql")
#: Settings of a cluster that lives for one test run: nothing is made durable.
_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "'1GB'",
    # As the README asks of a store's server: a checkpoint deletes old WAL segments
    # instead of renaming them for reuse with their contents (erasure needs that).
    "wal_recycle": "off",
    "shared_buffers": "'64MB'",
    # Every store is an engine with a pool of its own (5 + 10 overflow), and a test
    # may open several at once (the API, a CLI process, the test's own).
    "max_connections": "200",
    "log_min_messages": "warning",
    "log_checkpoints": "off",
}


def start_cluster() -> Cluster:
    """A new test cluster, started (the caller stops it); a missing server or a failed
    start fails the test with what to install or the server's log."""
    try:
        return pgcluster.start_cluster(_SETTINGS)
    except ClusterError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """This worker's cluster, started on first use and stopped at the session's end."""
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(postgres: Cluster) -> Iterator[str]:
    """The URL of a fresh PostgreSQL database, dropped after the test."""
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture(scope="module", params=DATABASES)
def module_db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """For a data dir shared by a module's tests: None (the data dir's own SQLite file,
    as with no URL set), or a new PostgreSQL database, dropped after the module."""
    if request.param == "sqlite":
        yield None
        return
    cluster: Cluster = request.getfixturevalue("postgres")
    name = cluster.create_database()
    yield cluster.url(name)
    cluster.drop_database(name)


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, data_dir: Path) -> str:
    """A fresh store URL on each database: the SQLite file of the test's data dir (what
    it holds with no URL set), or a new PostgreSQL database."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return url
    return default_url(data_dir)


@pytest.fixture
def store_bytes(request: pytest.FixtureRequest) -> Callable[[str], bytes]:
    """What a store URL's database holds on disk: the SQLite file with its WAL, or the
    PostgreSQL database's files with the cluster's WAL."""

    def read(url: str) -> bytes:
        if dialect(url) == "sqlite":
            path = Path(str(make_url(url).database))
            return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
        cluster: Cluster = request.getfixturevalue("postgres")
        return cluster.stored_bytes(url)

    return read


def dialect(url: str) -> str:
    """``sqlite`` or ``postgresql``: the database a store URL names."""
    return make_url(url).get_backend_name()
