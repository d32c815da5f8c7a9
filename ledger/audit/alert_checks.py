"""The risk-alert part of the audit: the anchored alert log, the recomputed alerts, the window.

:func:`check_alerts` runs after the batch pass, on the replayed chain state and
the store: the log against its kind-4 anchors (:mod:`ledger.audit.alert_log`),
every per-loan alert against the transitions recomputed from the anchored
records (:mod:`ledger.audit.alert_transitions`), and every alert against the
risk plan's delivery window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ledger.alerts.plan import DEFAULT_WINDOW_HOURS, Plan
from ledger.audit.alert_log import check_log, check_window
from ledger.audit.alert_transitions import check_transitions
from ledger.audit.findings import AuditReport
from ledger.audit.replay import ChainState
from ledger.store import Store


@dataclass(frozen=True, kw_only=True)
class AlertChecks:
    """How the alerts are audited."""

    #: The risk plan's ``[delivery] window_hours`` (:meth:`of` takes it from a plan).
    window_hours: int = DEFAULT_WINDOW_HOURS
    #: Whether the platform derives alerts (``LEDGER_ALERTS``): when not, none is expected.
    recompute: bool = True
    #: The audit's "now", for alerts still inside their window (None: the clock).
    now: datetime | None = None

    @classmethod
    def of(cls, plan: Plan, *, recompute: bool = True) -> AlertChecks:
        return cls(window_hours=plan.window_hours, recompute=recompute)


def check_alerts(
    store: Store,
    state: ChainState,
    report: AuditReport,
    checks: AlertChecks,
    *,
    rebuilt: bool = False,
) -> None:
    """``rebuilt``: the store is an audit's rebuild (:func:`~ledger.audit.store_checks.
    rebuild_claim`), which holds only the sealed, anchored and exported part of the log:
    what it lacks is ``ALERT_NOT_REBUILT`` (info), not missing or unanswered."""
    with store.session() as s:
        check_log(s, state, report, rebuilt=rebuilt)
        if checks.recompute:
            check_transitions(s, state, report, rebuilt=rebuilt)
        check_window(s, report, window_hours=checks.window_hours, now=checks.now, rebuilt=rebuilt)
