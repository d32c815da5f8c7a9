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

:class:`GroupDerivation` does the same for the batches that one transaction
stores, with the work that needs no database (:meth:`Deriver.prepare`) done on
another thread while the storing thread writes the batches' leaves: the states
are read once, in the transaction, and each batch is compared with them as the
batches before it in the group left them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import polars as pl
from sqlalchemy.orm import Session

from ledger.alerts.events import (
    COMPARED,
    ENGINE,
    compared_plan,
    event_plan,
    next_state_plan,
    state_frame,
)
from ledger.alerts.outbox import NewAlert, enqueue, enqueue_frame
from ledger.alerts.payloads import LoanRefs, Unbatched, batched, funder_rows, unbatched
from ledger.alerts.plan import Plan
from ledger.alerts.portfolio import BookMoves, evaluate, moves_plan
from ledger.chain.types import BatchKind
from ledger.store.accounts import ID, put_states, states_of

#: Where a batch's alerts go, in the batch's transaction: a frame of per-loan
#: alerts (:func:`~ledger.alerts.outbox.enqueue_frame`) or a list of book alerts.
Sink = Callable[[Session, pl.DataFrame | list[NewAlert]], None]
#: Runs a function on another thread, in the order given (the storing step's).
Submit = Callable[[Callable[[], "Prepared"]], "Future[Prepared]"]


def to_outbox(s: Session, alerts: pl.DataFrame | list[NewAlert]) -> None:
    """The sink of a real ingest: the outbox."""
    if isinstance(alerts, pl.DataFrame):
        enqueue_frame(s, alerts)
    else:
        enqueue(s, alerts)


@dataclass(frozen=True)
class Prepared:
    """What a batch's facts make against the states they are compared with: the
    alerts (without the batch's id and anchor, which only its storing gives), the
    moves of each bank's book, and the accounts' new states (without the batch id;
    :data:`ID`: the row of the state compared with, null for an account without)."""

    alerts: Unbatched
    moves: pl.DataFrame
    states: pl.DataFrame


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
        prepared = self.prepare(facts, states_of(s, facts.get_column("account")))
        count = self.apply(s, batch_id, root, prepared)
        put_states(s, prepared.states.with_columns(batch_id=pl.lit(batch_id)))
        return count

    def prepare(self, facts: pl.DataFrame, rows: pl.DataFrame) -> Prepared:
        """The alerts, moves and new states of ``facts`` against the stored states
        ``rows`` (:func:`~ledger.store.accounts.states_of`'s columns, or at least
        :data:`ID`, the account and :data:`~ledger.alerts.events.COMPARED`).

        Reads no database: it may run on any thread."""
        stored = state_frame(rows)
        past = compared_plan(facts.lazy(), stored)
        per_bank, moves, states = pl.collect_all(
            [
                funder_rows(event_plan(past)),
                moves_plan(past, self.plan.critical_dpd),
                next_state_plan(facts.lazy(), stored).join(
                    rows.lazy().select("account", ID), on="account", how="left"
                ),
            ],
            engine=ENGINE,
        )
        return Prepared(unbatched(per_bank, self.plan, self.refs), moves, states)

    def apply(self, s: Session, batch_id: str, root: str, prepared: Prepared) -> int:
        """Queue the alerts of ``prepared`` (:meth:`prepare`), whose batch is stored as
        ``batch_id`` with Merkle root ``root``, and count its book moves; the number of
        alerts. Its new states are the caller's to put."""
        self._moves.add(prepared.moves)
        if prepared.alerts.alerts.is_empty():
            return 0
        anchor = {**self.registry, "kind": int(BatchKind.CREDIT_DATA), "root": root}
        self.sink(s, batched(prepared.alerts, batch_id, anchor))
        return prepared.alerts.alerts.height

    def finish(self, s: Session) -> int:
        """At a submission's last batch (its transaction): each bank's book against the
        plan; the number of alerts. Starts the next submission's figures afresh."""
        moves, self._moves = self._moves, BookMoves()
        alerts = evaluate(s, self.plan, moves)
        if alerts:
            self.sink(s, alerts)
        return len(alerts)


class GroupDerivation:
    """The alerts of the batches one transaction stores, in their order.

    Made at the start of the transaction, before any batch is written: it reads the
    stored states of every account of ``facts`` (one entry per batch, None for a
    batch without facts) and has ``submit`` prepare each batch in turn, each against
    the states the batches before it leave. :meth:`stored` then queues each batch's
    alerts as it is stored. The new states are put once, by :meth:`put_states`, as
    the batches one after another would have left them.

    A batch stored with other facts than it was queued with (some of its records were
    duplicates) or not stored at all breaks the chain: from there on each batch is
    derived in the transaction itself, as :meth:`Deriver.derive` does alone.
    """

    def __init__(
        self,
        deriver: Deriver,
        s: Session,
        facts: Sequence[pl.DataFrame | None],
        submit: Submit,
    ) -> None:
        self.deriver = deriver
        self._facts = list(facts)
        known = [f for f in self._facts if f is not None and not f.is_empty()]
        accounts = pl.concat([f.get_column("account") for f in known]) if known else None
        self._rows = states_of(s, accounts) if accounts is not None else pl.DataFrame()
        self._ahead: list[Future[Prepared] | None] = []
        chain = _Chain(self._rows.select(ID, "account", *COMPARED)) if known else None
        for batch in self._facts:
            if chain is None or batch is None or batch.is_empty():
                self._ahead.append(None)
            else:
                self._ahead.append(submit(functools.partial(chain.prepare, deriver, batch)))
        self._next = 0
        self._chained = True
        self._states: list[pl.DataFrame] = []

    def stored(
        self, s: Session, batch_id: str | None, root: str, facts: pl.DataFrame | None
    ) -> int:
        """The next batch is stored as ``batch_id`` (None: not stored) with these facts;
        queues its alerts, the number of them."""
        index, self._next = self._next, self._next + 1
        queued = self._facts[index]
        if self._chained and facts is queued and batch_id is not None:
            future = self._ahead[index]
            if future is None:
                return 0
            prepared = future.result()
            self._states.append(prepared.states.with_columns(batch_id=pl.lit(batch_id)))
            return self.deriver.apply(s, batch_id, root, prepared)
        if self._chained and (queued is not None and not queued.is_empty()):
            self._chained = False  # the batches after it were prepared on other states
            self.put_states(s)
        if batch_id is None or facts is None:
            return 0
        return self.deriver.derive(s, batch_id, root, facts)

    def put_states(self, s: Session) -> None:
        """Store the new states of the batches stored so far (each account's last)."""
        if not self._states:
            return
        states, self._states = pl.concat(self._states, how="vertical_relaxed"), []
        first = states.select("account").unique(keep="first", maintain_order=True)
        last = states.unique("account", keep="last").drop(ID)
        merged = first.join(last, on="account", how="left", maintain_order="left")
        held = self._rows.select("account", ID) if not self._rows.is_empty() else None
        if held is None:
            merged = merged.with_columns(pl.lit(None, dtype=pl.Int64).alias(ID))
        else:
            merged = merged.join(held, on="account", how="left", maintain_order="left")
        put_states(s, merged)


class _Chain:
    """The states each batch of a group is compared with: those read at its start, as
    the batches before it leave them. Its batches are prepared one at a time, in order."""

    def __init__(self, rows: pl.DataFrame) -> None:
        self.rows = rows

    def prepare(self, deriver: Deriver, facts: pl.DataFrame) -> Prepared:
        prepared = deriver.prepare(facts, self.rows)
        new = prepared.states.select(ID, "account", *COMPARED)
        kept = self.rows.filter(~pl.col("account").is_in(new.get_column("account").implode()))
        self.rows = pl.concat([kept, new], how="vertical_relaxed")
        return prepared
