"""A throw-away PostgreSQL cluster per pytest worker, and a fresh database per test.

The store is "any SQLAlchemy URL": its tests run on SQLite and on a real
PostgreSQL server (Debian's ``postgresql`` package; ``make postgres`` installs it).
Each worker makes its own cluster with ``initdb`` in a temp dir, starts it with
``pg_ctl`` listening only on a unix socket in that dir (no port to collide on),
and stops it when the session ends. Durability is switched off (fsync, full page
writes): the cluster lives for one test run. Missing server binaries fail the
test that needs them with the command that installs them; nothing is skipped.

initdb and the server refuse to run as root, so as root they run as Debian's
``postgres`` system user, which owns the cluster's dir; the tests connect over
the socket as the cluster's superuser (trust authentication, the socket dir is
the cluster's alone).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from ledger.store.db import default_url

#: The database parameter of store tests: the same test on each.
DATABASES = ("sqlite", "postgresql")
#: Who owns and runs the cluster when the tests run as root.
SERVER_USER = "postgres"
SUPERUSER = "postgres"
#: Where Debian installs each major version's server binaries (``<version>/bin``).
DEBIAN_DIR = Path("/usr/lib/postgresql")
INSTALL_HINT = "install Debian's PostgreSQL server: `make postgres` (apt-get install postgresql)"
#: Settings of a cluster that lives for one test run: nothing is made durable, and
#: nothing listens on TCP (the socket is in the cluster's own temp dir).
_SETTINGS = {
    "listen_addresses": "''",
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
_START_SECONDS = 60


def server_bindir() -> Path:
    """The dir of ``initdb``, ``pg_ctl`` and ``postgres``: ``pg_config --bindir``, or
    Debian's versioned dirs (newest first); a clear failure when none is installed."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        found = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if found:
            candidates.append(Path(found))
    debian = DEBIAN_DIR
    if debian.is_dir():
        versions = [p for p in debian.iterdir() if p.name.isdigit()]
        candidates += [p / "bin" for p in sorted(versions, key=lambda p: -int(p.name))]
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    pytest.fail(
        f"the PostgreSQL server (initdb, pg_ctl, postgres) is not installed: {INSTALL_HINT}"
    )


@dataclass
class Cluster:
    """A running throw-away cluster: its dir (data and socket) and how to reach it."""

    bindir: Path
    root: Path
    #: The system user the server runs as (None: the current one).
    user: str | None
    #: Seconds from ``initdb`` to a server that accepts connections.
    started_in: float = 0.0
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` over the socket, with psycopg 3."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=str(self.socket_dir), user=SUPERUSER, dbname="postgres", autocommit=True
        )

    def create_database(self, like: str | None = None) -> str:
        """A new database: empty (copied from ``template0``: nothing of another test's),
        or a copy of the database ``like`` (which nothing may be connected to)."""
        name = f"t{next(self._names)}"
        source = "template0" if like is None else like
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}" ENCODING \'UTF8\'')
        return name

    def copy(self, url: str) -> str:
        """The URL of a new copy of the database of ``url``."""
        return self.url(self.create_database(like=make_url(url).database))

    def drop_database(self, name: str) -> None:
        """Drop it, ending whatever connections a test left open on it."""
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stored_bytes(self, url: str) -> bytes:
        """What the server wrote to disk for the database of ``url``: its files and the
        write-ahead log, after a checkpoint (what someone with the disk would read)."""
        with self.admin() as conn:
            conn.execute("CHECKPOINT")
            found = conn.execute(
                "SELECT oid FROM pg_database WHERE datname = %s", (make_url(url).database,)
            ).fetchone()
        assert found is not None, url
        files = [*(self.data / "base" / str(found[0])).iterdir(), *(self.data / "pg_wal").iterdir()]
        return b"".join(p.read_bytes() for p in sorted(files) if p.is_file())

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        """One of the server's tools, as the cluster's owner; its output in a failure."""
        done = subprocess.run(
            [str(self.bindir / tool), *args],
            cwd=self.root,  # the owner may not enter the caller's working dir
            capture_output=True,
            text=True,
            check=False,
            timeout=_START_SECONDS,
            user=self.user,
            extra_groups=None if self.user is None else [],  # not root's groups
        )
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"{tool} {' '.join(args)} failed:\n{done.stdout}{done.stderr}{tail}")
        return done

    def start(self) -> None:
        began = time.monotonic()
        self.run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"unix_socket_directories = '{self.socket_dir}'\n")
            conf.writelines(f"{name} = {value}\n" for name, value in _SETTINGS.items())
        self.run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.root / "server.log"))
        self.started_in = time.monotonic() - began

    def stop(self) -> None:
        """Stop the server at once (nothing in it is kept) and remove its dir."""
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data))
        shutil.rmtree(self.root, ignore_errors=True)


def _server_user() -> str | None:
    """None when not root; as root, the ``postgres`` system user (the server refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        pytest.fail(
            f"the tests run as root and there is no {SERVER_USER!r} user to run the "
            f"PostgreSQL server as: {INSTALL_HINT}, which creates it"
        )
    return SERVER_USER


def start_cluster() -> Cluster:
    """A new cluster in a new temp dir, started; the caller stops it."""
    bindir = server_bindir()
    user = _server_user()
    # Under /tmp, not pytest's tmp dirs: those are the caller's alone (0700), and the
    # server's user must reach its dir; a short path also keeps the socket's within
    # the 107 bytes a unix socket path may have.
    root = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
    if user is not None:
        shutil.chown(root, user, user)
    cluster = Cluster(bindir, root, user)
    try:
        cluster.start()
    except BaseException:
        with contextlib.suppress(BaseException):
            cluster.stop()
        raise
    return cluster


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
