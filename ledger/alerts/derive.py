"""Alerts of a stored batch, derived in the transaction that stores it.

:class:`Deriver` is what the submission's storing step calls per batch: it
reads the stored states of the batch's co-funded accounts, names the events
(:func:`~ledger.alerts.events.event_plan`), makes each funder's payload
(:func:`~ledger.alerts.payloads.payloads`), adds them to the outbox in the
same transaction and stores the accounts' new states. So an alert exists
exactly when its batch does. At the submission's last batch it also measures
each bank's book against the plan (:mod:`~ledger.alerts.portfolio`).

A batch's comparisons, events, book moves and new states are one polars plan,
collected once; states go in and out of the store column-wise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import polars as pl
from sqlalchemy.orm import Session

from ledger.alerts.events import ENGINE, compared_plan, event_plan, next_state_plan, state_frame
from ledger.alerts.outbox import NewAlert, enqueue, enqueue_frame
from ledger.alerts.payloads import LoanRefs, funder_rows, payloads
from ledger.alerts.plan import Plan
from ledger.alerts.portfolio import BookMoves, evaluate, moves_plan
from ledger.chain.types import BatchKind
from ledger.store.accounts import ID, put_states, states_of

#: Where a batch's alerts go, in the batch's transaction: a frame of per-loan
#: alerts (:func:`~ledger.alerts.outbox.enqueue_frame`) or a list of book alerts.
Sink = Callable[[Session, pl.DataFrame | list[NewAlert]], None]


def to_outbox(s: Session, alerts: pl.DataFrame | list[NewAlert]) -> None:
    """The sink of a real ingest: the outbox."""
    if isinstance(alerts, pl.DataFrame):
        enqueue_frame(s, alerts)
    else:
        enqueue(s, alerts)


class Deriver:
    """Derives and queues the alerts of each stored batch under one risk plan."""

    def __init__(
        self,
        plan: Plan,
        refs: LoanRefs,
        sink: Sink = to_outbox,
        *,
        registry: Mapping[str, object],
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
        rows = states_of(s, facts.get_column("account"))
        stored = state_frame(rows)
        past = compared_plan(facts.lazy(), stored)
        per_bank, moves, states = pl.collect_all(
            [
                funder_rows(event_plan(past)),
                moves_plan(past, self.plan.critical_dpd),
                next_state_plan(facts.lazy(), stored)
                .with_columns(batch_id=pl.lit(batch_id))
                .join(rows.lazy().select("account", ID), on="account", how="left"),
            ],
            engine=ENGINE,
        )
        self._moves.add(moves)
        anchor = {**self.registry, "kind": int(BatchKind.CREDIT_DATA), "root": root}
        alerts = payloads(per_bank, self.plan, self.refs, batch_id, anchor)
        if not alerts.is_empty():
            self.sink(s, alerts)
        put_states(s, states)
        return alerts.height

    def finish(self, s: Session) -> int:
        """At a submission's last batch (its transaction): each bank's book against the
        plan; the number of alerts. Starts the next submission's figures afresh."""
        moves, self._moves = self._moves, BookMoves()
        alerts = evaluate(s, self.plan, moves)
        if alerts:
            self.sink(s, alerts)
        return len(alerts)
