"""The auditor's replay: rebuild the state from the chain alone, cross-check, report.

:func:`audit` replays ``BatchAnchored``, ``ConsentRecorded`` and ``ConsentRevoked``
from the deployment block, proves the replay complete against the contract's
``logHead`` and ``anchorCount``, then checks the platform's store and exported
records against it. Findings are typed (:data:`CODES`) and never carry personal
data. :func:`export_records` writes what an operator hands an auditor.
"""

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
