"""A throw-away PostgreSQL cluster: ``initdb`` in a temp dir, ``pg_ctl`` listening only on a
unix socket in that dir. The one launch the store's tests (``tests/_postgres.py``, with
settings for a cluster that lives one test run) and the benchmark's ``pg`` section
(``scripts/bench_pg.py``, with durable settings) share.

initdb and the server refuse to run as root, so as root they run as Debian's
``postgres`` system user, which owns the cluster's dir; clients connect over the
socket as the cluster's superuser (trust authentication, the socket dir is the
cluster's alone). A missing server or a tool that fails raises :class:`ClusterError`
with what to install or the server's log.
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import psycopg
from sqlalchemy.engine import make_url

#: Who owns and runs the cluster when the caller is root.
SERVER_USER: Final = "postgres"
SUPERUSER: Final = "postgres"
#: Where Debian installs each major version's server binaries (``<version>/bin``).
DEBIAN_DIR = Path("/usr/lib/postgresql")
INSTALL_HINT: Final = (
    "install Debian's PostgreSQL server: `make postgres` (apt-get install postgresql)"
)
_START_SECONDS: Final = 60


class ClusterError(RuntimeError):
    """The server is not installed, or one of its tools failed (the message says which)."""


def server_bindir() -> Path:
    """The dir of ``initdb``, ``pg_ctl`` and ``postgres``: ``pg_config --bindir``, or
    Debian's versioned dirs (newest first); :class:`ClusterError` when none is installed."""
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
    raise ClusterError(
        f"the PostgreSQL server (initdb, pg_ctl, postgres) is not installed: {INSTALL_HINT}"
    )


@dataclass
class Cluster:
    """A running throw-away cluster: its dir (data and socket) and how to reach it."""

    bindir: Path
    root: Path
    #: The system user the server runs as (None: the current one).
    user: str | None
    #: ``postgresql.conf`` settings added to initdb's (values as the file spells them).
    settings: Mapping[str, str]
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
        """A new database: empty (copied from ``template0``), or a copy of the database
        ``like`` (which nothing may be connected to)."""
        name = f"t{next(self._names)}"
        source = "template0" if like is None else like
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}" ENCODING \'UTF8\'')
        return name

    def copy(self, url: str) -> str:
        """The URL of a new copy of the database of ``url``."""
        return self.url(self.create_database(like=make_url(url).database))

    def drop_database(self, name: str) -> None:
        """Drop it, ending whatever connections were left open on it."""
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
            raise ClusterError(f"{tool} {' '.join(args)} failed:\n{done.stdout}{done.stderr}{tail}")
        return done

    def start(self) -> None:
        began = time.monotonic()
        self.run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"unix_socket_directories = '{self.socket_dir}'\n")
            conf.write("listen_addresses = ''\n")  # nothing on TCP
            conf.writelines(f"{name} = {value}\n" for name, value in self.settings.items())
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
        raise ClusterError(
            f"running as root and there is no {SERVER_USER!r} user to run the "
            f"PostgreSQL server as: {INSTALL_HINT}, which creates it"
        ) from None
    return SERVER_USER


def start_cluster(settings: Mapping[str, str]) -> Cluster:
    """A new cluster in a new temp dir with these ``postgresql.conf`` settings, started;
    the caller stops it."""
    bindir = server_bindir()
    user = _server_user()
    # Under /tmp, not a caller's private tmp dir (0700): the server's user must reach its
    # dir; a short path also keeps the socket's within the 107 bytes a unix socket path
    # may have.
    root = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
    if user is not None:
        shutil.chown(root, user, user)
    cluster = Cluster(bindir, root, user, settings)
    try:
        cluster.start()
    except BaseException:
        with contextlib.suppress(BaseException):
            cluster.stop()
        raise
    return cluster
