"""A PostgreSQL store outlives its server dropping its connections (a restart, a
fail-over, an administrator): the pool replaces a dead connection at checkout, and the
elected anchor sender takes its lock again on a new one. A connection in steady use is
not pinged; one idle for long is."""

from __future__ import annotations

import os
import resource

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ledger.anchoring.election import Election
from ledger.store import Store, db
from tests._postgres import Cluster
from tests.conftest import wait_until
from tests.e2e.test_serve_elected import sender_locks

#: The server sessions of every client of one database (``%s``) but the asking one.
_CLIENTS = " FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"


def drop_connections(postgres: Cluster, url: str) -> int:
    """End every server session on the database of ``url``, as a restart does; how many."""
    with postgres.admin() as conn:
        ended = conn.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))" + _CLIENTS,
            (make_url(url).database,),
        ).fetchone()
    assert ended is not None
    # pg_terminate_backend only signals: wait until the sessions have ended (and
    # closed their sockets), as they have once a restarted server answers again.
    wait_until(lambda: not sessions(postgres, url))
    return int(ended[0])


def sessions(postgres: Cluster, url: str) -> dict[int, str]:
    """Server session -> its last statement, of every client of the database of ``url``."""
    with postgres.admin() as conn:
        rows = conn.execute(
            "SELECT pid, query" + _CLIENTS,
            (make_url(url).database,),
        ).fetchall()
    return {int(pid): str(query) for pid, query in rows}


def test_the_first_query_after_the_server_dropped_the_pool_is_answered(
    postgres: Cluster, pg_url: str
) -> None:
    store = Store(pg_url)
    try:
        with store.session() as s:
            assert s.scalar(text("SELECT 1")) == 1  # a connection now waits in the pool
        assert drop_connections(postgres, pg_url) >= 1
        with store.session() as s:
            assert s.scalar(text("SELECT 2")) == 2
    finally:
        store.close()


def test_a_read_after_the_server_dropped_the_pool_is_answered(
    postgres: Cluster, pg_url: str
) -> None:
    store = Store(pg_url)
    try:
        with store.read() as conn:
            before = conn.scalar(text("SELECT pg_backend_pid()"))
        drop_connections(postgres, pg_url)
        with store.read() as conn:
            assert conn.scalar(text("SELECT pg_backend_pid()")) != before
    finally:
        store.close()


@pytest.mark.parametrize("idle", [False, True], ids=["in-use", "idle"])
def test_only_a_connection_idle_for_long_is_pinged_at_checkout(
    postgres: Cluster, pg_url: str, idle: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(pg_url)
    try:
        with store.read() as conn:
            pid = conn.scalar(text("SELECT pg_backend_pid()"))
        if idle:  # every connection has now been idle for longer than this
            monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        with store.read() as conn:
            # Checked out, nothing run yet: its session's last statement is the ping's.
            last = sessions(postgres, pg_url)[pid]
            assert conn.scalar(text("SELECT pg_backend_pid()")) == pid
        assert (last != "SELECT pg_backend_pid()") is idle, last
    finally:
        store.close()


def test_the_sender_takes_its_lock_again_on_a_new_connection(
    postgres: Cluster, pg_url: str
) -> None:
    store = Store(pg_url)
    election = Election(store)
    try:
        assert election.try_elect() and election.elected
        assert sender_locks(pg_url) == 1
        assert drop_connections(postgres, pg_url) >= 1
        assert sender_locks(pg_url) == 0  # the lock went with its session
        assert election.try_elect() and election.elected
        assert sender_locks(pg_url) == 1
    finally:
        election.close()
        store.close()


def test_a_connection_numbered_past_1024_is_checked_too(postgres: Cluster, pg_url: str) -> None:
    """A busy server's sockets may be numbered past select()'s FD_SETSIZE (1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1200
    assert hard == resource.RLIM_INFINITY or hard >= wanted, "the test needs 1200 descriptors"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    fillers = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    store = Store(pg_url)
    try:
        with store.read() as conn:
            before = conn.scalar(text("SELECT pg_backend_pid()"))
            assert conn.connection.driver_connection.fileno() > 1024  # type: ignore[union-attr]
        with store.read() as conn:  # checked at checkout: answered
            assert conn.scalar(text("SELECT pg_backend_pid()")) == before
        drop_connections(postgres, pg_url)
        with store.read() as conn:
            assert conn.scalar(text("SELECT pg_backend_pid()")) != before
    finally:
        store.close()
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
