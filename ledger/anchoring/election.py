"""One anchor sender at a time, chosen by the store's database.

Several ``ledger serve`` processes may share one PostgreSQL store; exactly one of
them sends anchors and seals the inquiry and alert logs. It is the one holding a
session-level advisory lock (:data:`SENDER_LOCK`) on a connection of its own, kept
open for as long as it sends. If the process dies, however it dies, its
connection closes and PostgreSQL releases the lock; the others try to take it
every :data:`RETRY_SECONDS`, so one of them sends within seconds. Nothing else
coordinates them: the outbox and the registry (which refuses a reused batch id)
keep every batch anchored exactly once, whoever sends it.

A SQLite store is one process's (its chain and its file lock), so that process is
always the sender.
"""

from __future__ import annotations

import logging
from typing import Final

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.logs import event
from ledger.store import Store

log = logging.getLogger(__name__)

#: The advisory lock key of the anchor sender ("ANCHOR" in ASCII).
SENDER_LOCK: Final = 0x41_4E_43_48_4F_52
#: How often a process that is not the sender tries to become it: a killed sender is
#: replaced within this (plus the time PostgreSQL takes to see its connection close).
RETRY_SECONDS: Final = 2.0


class Election:
    """Whether this process is the anchor sender; :meth:`try_elect` keeps it up to date."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._single = store.engine.dialect.name != "postgresql"
        self._held: Connection | None = None

    @property
    def elected(self) -> bool:
        """This process sends anchors (as of the last :meth:`try_elect`)."""
        return self._single or self._held is not None

    def try_elect(self) -> bool:
        """Take the sender's lock if it is free, or check that this process still holds it
        (its connection may have dropped, and the lock with it); whether it is the sender."""
        if self._single:
            return True
        if self._held is not None:
            try:
                self._held.execute(text("SELECT 1"))
                self._held.commit()  # never left idle in a transaction
            except SQLAlchemyError:
                self._drop()
                event(log, "anchor sender lock lost", logging.WARNING)
            else:
                return True
        try:
            conn = self.store.engine.connect()
        except SQLAlchemyError:
            return False
        try:
            took = conn.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": SENDER_LOCK}
            ).scalar_one()
            conn.commit()  # the lock is the session's; no transaction stays open with it
        except SQLAlchemyError:
            conn.invalidate()
            conn.close()
            return False
        if not took:
            conn.close()
            return False
        self._held = conn
        event(log, "elected anchor sender")
        return True

    def _drop(self) -> None:
        """Forget the held connection; never back into the pool, where it would keep the lock."""
        conn, self._held = self._held, None
        if conn is not None:
            conn.invalidate()
            conn.close()

    def close(self) -> None:
        """Step down: the connection closes and the lock goes with it."""
        self._drop()
