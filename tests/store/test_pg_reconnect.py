"""A PostgreSQL store outlives its server dropping its connections (a restart, a
fail-over, an administrator): the pool replaces a dead connection at checkout, and the
elected anchor sender takes its lock again on a new one."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ledger.anchoring.election import Election
from ledger.store import Store
from tests._postgres import Cluster
from tests.e2e.test_serve_elected import sender_locks


def drop_connections(postgres: Cluster, url: str) -> int:
    """End every server session on the database of ``url``, as a restart does; how many."""
    with postgres.admin() as conn:
        ended = conn.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (make_url(url).database,),
        ).fetchone()
    assert ended is not None
    return int(ended[0])


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
