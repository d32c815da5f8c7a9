"""Alerts of a stored batch, derived in the transaction that stores it.

:class:`Deriver` is what the submission's storing step calls per batch: it
reads the stored states of the batch's co-funded accounts, names the events
(:func:`~ledger.alerts.events.transitions`), makes each funder's payload
(:func:`~ledger.alerts.payloads.bank_alerts`), hands them to the sink (the
outbox, in the same transaction) and stores the accounts' new states. So an
alert exists exactly when its batch does.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
from sqlalchemy.orm import Session

from ledger.alerts.events import next_states, transitions
from ledger.alerts.payloads import BankAlert, LoanRefs, bank_alerts
from ledger.alerts.plan import Plan
from ledger.store.accounts import put_states, states_of

#: Where a batch's alerts go, in the batch's transaction.
Sink = Callable[[Session, list[BankAlert]], None]


class Deriver:
    """Derives and queues the alerts of each stored batch under one risk plan."""

    def __init__(self, plan: Plan, refs: LoanRefs, sink: Sink) -> None:
        self.plan = plan
        self.refs = refs
        self.sink = sink

    def derive(self, s: Session, batch_id: str, facts: pl.DataFrame) -> int:
        """Queue the alerts of ``facts`` (one stored batch's) and store the new states;
        the number of alerts."""
        if facts.is_empty():
            return 0
        stored = states_of(s, facts.get_column("account").unique().to_list())
        events = transitions(facts, stored)
        alerts = list(bank_alerts(events, self.plan, self.refs, batch_id))
        if alerts:
            self.sink(s, alerts)
        put_states(s, next_states(facts, stored).to_dicts())
        return len(alerts)
