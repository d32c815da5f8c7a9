"""The anchor sender's election: one PostgreSQL advisory lock, held on a connection of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.anchoring.election import SENDER_LOCK, Election
from ledger.store import Store
from tests.conftest import wait_until


@pytest.fixture
def stores(pg_url: str) -> Iterator[list[Store]]:
    """Two stores on one database, as two processes open it."""
    opened = [Store(pg_url), Store(pg_url)]
    yield opened
    for store in opened:
        store.close()


def lock_holders(store: Store) -> list[int]:
    with store.engine.connect() as conn:
        return list(
            conn.scalars(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": SENDER_LOCK},
            )
        )


def test_exactly_one_is_elected_and_the_next_takes_over(stores: list[Store]) -> None:
    first, second = Election(stores[0]), Election(stores[1])
    assert not first.elected
    assert first.try_elect() and first.elected
    assert not second.try_elect() and not second.elected
    assert first.try_elect()  # still held: the same connection
    (pid,) = lock_holders(stores[1])
    with stores[1].engine.connect() as conn:  # and not left idle in a transaction
        state = conn.scalar(text("SELECT state FROM pg_stat_activity WHERE pid = :p"), {"p": pid})
    assert state == "idle"
    first.close()  # as a killed process's connection closes
    assert not first.elected
    # The server ends the closed session (and its lock) on its own time, soon.
    wait_until(lambda: lock_holders(stores[1]) == [])
    assert second.try_elect() and second.elected
    assert not first.try_elect()
    second.close()


def test_a_dropped_connection_loses_the_lock_and_says_so(stores: list[Store]) -> None:
    first, second = Election(stores[0]), Election(stores[1])
    assert first.try_elect()
    (pid,) = lock_holders(stores[1])
    with stores[1].engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()
    wait_until(second.try_elect)  # the lock went with the connection
    assert not first.try_elect() and not first.elected  # and the old holder notices
    second.close()


def test_a_sqlite_store_is_one_process_s_and_it_always_sends(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        election = Election(store)
        assert election.elected and election.try_elect()
        election.close()
        assert election.elected
    finally:
        store.close()
