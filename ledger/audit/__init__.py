"""The auditor's replay: rebuild the state from the chain alone, cross-check, report.

:func:`audit` replays ``BatchAnchored``, ``ConsentRecorded`` and ``ConsentRevoked``
from the deployment block, proves the replay complete against the contract's
``logHead`` and ``anchorCount``, then checks the platform's store and exported
records against it. Findings are typed (:data:`CODES`) and never carry personal
data. :func:`export_records` writes what an operator hands an auditor.

The names load on first use (:mod:`ledger._lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger import _lazy

if TYPE_CHECKING:
    from ledger.audit.auditor import AuditTarget, audit
    from ledger.audit.findings import CODES, AuditReport, Finding, Severity
    from ledger.audit.records import export_records
    from ledger.audit.replay import ChainState
    from ledger.audit.report import render_html

__all__ = [
    "CODES",
    "AuditReport",
    "AuditTarget",
    "ChainState",
    "Finding",
    "Severity",
    "audit",
    "export_records",
    "render_html",
]

_FINDINGS = "ledger.audit.findings"
__getattr__ = _lazy.exports(
    __name__,
    {
        "AuditTarget": "ledger.audit.auditor",
        "audit": "ledger.audit.auditor",
        "CODES": _FINDINGS,
        "AuditReport": _FINDINGS,
        "Finding": _FINDINGS,
        "Severity": _FINDINGS,
        "export_records": "ledger.audit.records",
        "ChainState": "ledger.audit.replay",
        "render_html": "ledger.audit.report",
    },
)
