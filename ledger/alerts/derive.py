"""Alerts of a stored batch, derived in the transaction that stores it.

:class:`Deriver` is what the submission's storing step calls per batch: it
reads the stored states of the batch's co-funded accounts, names the events
(:func:`~ledger.alerts.events.transitions`), makes each funder's payload
(:func:`~ledger.alerts.payloads.bank_alerts`), hands them to the sink (the
outbox, in the same transaction) and stores the accounts' new states. So an
alert exists exactly when its batch does. At the submission's last batch it
also measures each bank's book against the plan (:mod:`~ledger.alerts.portfolio`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import polars as pl
from sqlalchemy.orm import Session

from ledger.alerts.events import compared, events_in, next_states
from ledger.alerts.outbox import NewAlert
from ledger.alerts.payloads import LoanRefs, bank_alerts
from ledger.alerts.plan import Plan
from ledger.alerts.portfolio import BookMoves, evaluate
from ledger.chain.types import BatchKind
from ledger.store.accounts import put_states, states_of

#: Where a batch's alerts go, in the batch's transaction.
Sink = Callable[[Session, list[NewAlert]], None]


class Deriver:
    """Derives and queues the alerts of each stored batch under one risk plan."""

    def __init__(
        self, plan: Plan, refs: LoanRefs, sink: Sink, *, registry: Mapping[str, object]
    ) -> None:
        """``registry``: where batches are anchored (``chain_id``, ``address``)."""
        self.plan = plan
        self.refs = refs
        self.sink = sink
        self.registry = dict(registry)
        self._moves = BookMoves()

    def derive(self, s: Session, batch_id: str, root: str, facts: pl.DataFrame) -> int:
        """Queue the alerts of ``facts`` (one stored batch's, whose Merkle root is ``root``)
        and store the new states; the number of alerts."""
        if facts.is_empty():
            return 0
        stored = states_of(s, facts.get_column("account").unique().to_list())
        past = compared(facts, stored)
        self._moves.add(past, self.plan.critical_dpd)
        anchor = {**self.registry, "kind": int(BatchKind.CREDIT_DATA), "root": root}
        alerts = bank_alerts(events_in(past), self.plan, self.refs, batch_id, anchor)
        if alerts:
            self.sink(s, alerts)
        states = next_states(facts, stored).with_columns(batch_id=pl.lit(batch_id))
        put_states(s, states.to_dicts())
        return len(alerts)

    def finish(self, s: Session) -> int:
        """At a submission's last batch (its transaction): each bank's book against the
        plan; the number of alerts. Starts the next submission's figures afresh."""
        moves, self._moves = self._moves, BookMoves()
        alerts = evaluate(s, self.plan, moves)
        if alerts:
            self.sink(s, alerts)
        return len(alerts)
