"""Typed audit findings and the report that collects them.

A finding names *what* disagrees (a code), how bad it is, *where* (batch,
leaf index, consent, inquiry or alert id) and the expected and found values —
hashes, sizes, times, ids and bank codes only, never a record, a receipt or a
pseudonym.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final


class Severity(IntEnum):
    """How bad a finding is; ``info`` never fails an audit (an erased leaf, say)."""

    INFO = 0
    WARNING = 1
    ERROR = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()


#: Every finding code with its severity and a one-line meaning (the report's legend).
CODES: Final[dict[str, tuple[Severity, str]]] = {
    # the chain itself
    "CHAIN_EVENTS_MISSING": (Severity.CRITICAL, "BatchAnchored events are missing from the replay"),
    "CHAIN_LOG_HEAD_MISMATCH": (
        Severity.CRITICAL,
        "the logHead recomputed from the events differs from the contract's",
    ),
    "CHAIN_ANCHOR_COUNT_MISMATCH": (
        Severity.CRITICAL,
        "the number of anchors replayed differs from the contract's anchorCount",
    ),
    "CHAIN_EVENT_HIDDEN": (
        Severity.CRITICAL,
        "the contract holds state whose event the node did not return",
    ),
    "CHAIN_MANIFEST_DUPLICATE": (
        Severity.CRITICAL,
        "one manifest hash is anchored under two batch ids (a manifest names one batch)",
    ),
    # store batches and leaves against the chain
    "STORE_BATCH_NOT_ON_CHAIN": (Severity.CRITICAL, "a batch the store calls anchored is not"),
    "STORE_ROOT_MISMATCH": (Severity.CRITICAL, "a store batch's root differs from its anchor"),
    "STORE_SIZE_MISMATCH": (Severity.CRITICAL, "a store batch's tree size differs from its anchor"),
    "STORE_KIND_MISMATCH": (Severity.ERROR, "a store batch's kind differs from its anchor"),
    "STORE_MANIFEST_MISMATCH": (
        Severity.ERROR,
        "a store manifest does not hash to the anchored manifest hash",
    ),
    "STORE_MANIFEST_ID_MISMATCH": (
        Severity.CRITICAL,
        "a manifest names another batch id than the one it is stored and anchored under",
    ),
    "STORE_MANIFEST_TREE_MISMATCH": (
        Severity.CRITICAL,
        "a manifest's kind, root or tree size differs from its batch's anchor (or row)",
    ),
    "STORE_ANCHOR_MISMATCH": (
        Severity.ERROR,
        "a store batch's anchor (chain, registry, transaction, block or block time) differs "
        "from where and when the chain anchored it",
    ),
    "STORE_REBUILD_CLAIM_FALSE": (
        Severity.CRITICAL,
        "the store says it is an audit's rebuild, but holds what no rebuild writes "
        "(a submission, an unsealed alert) or is of another chain",
    ),
    "STORE_BATCH_PENDING": (Severity.WARNING, "a batch is anchored on chain but pending in store"),
    "ANCHOR_REORGED": (
        Severity.INFO,
        "a reorg dropped the block of a batch's anchor and the batch was sent again "
        "(found: the dropped transaction@block; expected: its anchor on chain now)",
    ),
    "CHAIN_ANCHOR_NOT_IN_STORE": (Severity.ERROR, "an anchored batch is missing from the store"),
    "LEAF_MISSING": (Severity.CRITICAL, "a leaf of an anchored batch is missing from the store"),
    "LEAF_EXTRA": (Severity.ERROR, "the store holds a leaf beyond the anchored tree size"),
    "LEAF_RECORD_MISMATCH": (Severity.CRITICAL, "a stored record does not hash to its leaf"),
    "LEAF_TREE_MISMATCH": (
        Severity.CRITICAL,
        "a batch's stored leaf hashes do not rebuild its anchored root",
    ),
    "LEAF_RECORD_ID_MISMATCH": (
        Severity.CRITICAL,
        "a stored record's own id (record_id, inquiry_id) differs from the id the store "
        "files it under",
    ),
    "LEAF_ERASED": (Severity.INFO, "a record was erased at the borrower's request; hash kept"),
    "LEAF_ERASED_UNRECORDED": (
        Severity.ERROR,
        "a record is gone but no erasure names its batch",
    ),
    "RECORD_DUPLICATE_IN_STORE": (Severity.WARNING, "one record id is stored in several leaves"),
    # consents
    "CONSENT_NOT_ON_CHAIN": (Severity.ERROR, "a consent the store calls recorded is not on chain"),
    "CONSENT_NOT_IN_STORE": (Severity.WARNING, "a consent on chain is missing from the store"),
    "CONSENT_RECEIPT_MISMATCH": (
        Severity.CRITICAL,
        "a stored receipt does not hash to its commitment",
    ),
    "CONSENT_RECEIPT_ID_MISMATCH": (
        Severity.CRITICAL,
        "a stored receipt's own consent_id differs from the id it is stored and committed under",
    ),
    "CONSENT_RECEIPT_DUPLICATE": (
        Severity.CRITICAL,
        "one receipt (one commitment) is stored or recorded under two consent ids",
    ),
    "CONSENT_RECEIPT_SUBJECT_MISMATCH": (
        Severity.ERROR,
        "a stored receipt names another subject than its row",
    ),
    "CONSENT_SUPERSEDES_MISMATCH": (
        Severity.ERROR,
        "a stored receipt supersedes another consent than its row says",
    ),
    "CONSENT_SUPERSEDED_NOT_WITHDRAWN": (
        Severity.ERROR,
        "a consent that a recorded receipt supersedes is not withdrawn on chain from the "
        "new consent's start",
    ),
    "CONSENT_COMMITMENT_MISMATCH": (
        Severity.CRITICAL,
        "a store commitment differs from the chain's",
    ),
    "CONSENT_WINDOW_MISMATCH": (
        Severity.ERROR,
        "a consent's validity (its row's or its receipt's) differs from the chain's",
    ),
    "CONSENT_REVOKED_ON_CHAIN_ONLY": (
        Severity.CRITICAL,
        "withdrawn on chain, still valid in the store",
    ),
    "CONSENT_REVOCATION_NOT_ON_CHAIN": (
        Severity.ERROR,
        "the store says a withdrawal is recorded; the chain has none or another time",
    ),
    "CONSENT_ERASED": (Severity.INFO, "a receipt was erased; its commitment stays on chain"),
    # inquiries
    "INQUIRY_WITHOUT_CONSENT": (
        Severity.CRITICAL,
        "a granted inquiry names no consent recorded on chain",
    ),
    "INQUIRY_CONSENT_UNSUPPORTED": (
        Severity.CRITICAL,
        "a granted inquiry's consent has no receipt of its own: its committed receipt names "
        "another consent, or another consent holds its commitment",
    ),
    "INQUIRY_CONSENT_NOT_VALID": (
        Severity.CRITICAL,
        "a granted inquiry's consent was not valid at its time: on chain, by its receipt, or "
        "superseded",
    ),
    "INQUIRY_NOT_COVERED": (
        Severity.CRITICAL,
        "a granted inquiry's subject, institution or purpose is not in its consent receipt",
    ),
    "INQUIRY_LEAF_MISMATCH": (
        Severity.CRITICAL,
        "a sealed inquiry differs from the anchored leaf that logged it",
    ),
    "INQUIRY_ID_MISMATCH": (
        Severity.CRITICAL,
        "a sealed inquiry row's id differs from the inquiry id its anchored leaf logs",
    ),
    "INQUIRY_MISSING": (Severity.ERROR, "an anchored inquiry leaf has no inquiry row"),
    # the risk-alert log (kind 4) and the alerts recomputed from the anchored records
    "ALERT_LOG_ENTRY_MISSING": (
        Severity.CRITICAL,
        "an anchored alert-log leaf has no alert, delivery attempt or acknowledgement row "
        "sealed at its place (deleted)",
    ),
    "ALERT_LOG_ENTRY_MISMATCH": (
        Severity.CRITICAL,
        "a sealed alert, delivery attempt or acknowledgement differs from the anchored leaf "
        "at its place (altered)",
    ),
    "ALERT_LOG_ENTRY_ADDED": (
        Severity.CRITICAL,
        "a row claims a place in the anchored alert log that logs another entry, or none",
    ),
    "ALERT_MISSING": (
        Severity.CRITICAL,
        "a transition recomputed from the anchored records has no alert to a funder of its loan",
    ),
    "ALERT_FORGED": (
        Severity.CRITICAL,
        "an alert that no transition of the anchored records explains",
    ),
    "ALERT_TO_NON_FUNDER": (
        Severity.CRITICAL,
        "an alert went to an institution that is not among its record's funders",
    ),
    "ALERT_UNANSWERED": (
        Severity.ERROR,
        "an alert was neither delivered nor acknowledged within the risk plan's window",
    ),
    "ALERT_NOT_REBUILT": (
        Severity.INFO,
        "a rebuilt store lacks this alert, its log entry or its answer: a rebuild holds only "
        "the alert log's anchored, exported entries (with bodies that hash right), not what "
        "the platform has not sealed yet; judge the platform's store for ALERT_MISSING",
    ),
    # exported records
    "RECORD_UNREADABLE": (Severity.ERROR, "a line of the exported records is not a proof bundle"),
    "RECORD_HASH_MISMATCH": (Severity.CRITICAL, "an exported record does not hash to its leaf"),
    "RECORD_PROOF_INVALID": (Severity.CRITICAL, "an exported record's audit path fails"),
    "RECORD_NOT_ANCHORED": (
        Severity.CRITICAL,
        "an exported record's batch is not anchored with its root and size",
    ),
    "RECORD_STORE_MISMATCH": (
        Severity.CRITICAL,
        "an exported record's leaf differs from the store's leaf at that index",
    ),
    "RECORD_DUPLICATE": (Severity.ERROR, "one leaf is exported more than once"),
}


#: The fields of a :class:`Finding` that say where it is, in the order reports show them.
WHERE: Final = ("batch_id", "leaf_index", "consent_id", "inquiry_id", "alert_id", "line")


@dataclass(frozen=True, slots=True)
class Finding:
    """One disagreement. ``expected``/``found`` hold hashes, counts, times or ids only."""

    code: str
    batch_id: str | None = None
    leaf_index: int | None = None
    consent_id: str | None = None
    inquiry_id: str | None = None
    alert_id: str | None = None
    line: int | None = None
    expected: str | int | None = None
    found: str | int | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code}")

    @property
    def severity(self) -> Severity:
        return CODES[self.code][0]

    @property
    def message(self) -> str:
        return CODES[self.code][1]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "severity": self.severity.label}
        for name in WHERE:
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        data |= {"expected": self.expected, "found": self.found, "message": self.message}
        return data


@dataclass
class AuditReport:
    """Findings plus what was looked at."""

    findings: list[Finding] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)
    chain: dict[str, Any] = field(default_factory=dict)

    def add(self, code: str, **where: Any) -> None:
        self.findings.append(Finding(code, **where))

    @property
    def failing(self) -> list[Finding]:
        return [f for f in self.findings if f.severity > Severity.INFO]

    @property
    def clean(self) -> bool:
        return not self.failing

    def codes(self) -> Counter[str]:
        return Counter(f.code for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "credit-anchor/audit-report/v1",
            "clean": self.clean,
            "chain": self.chain,
            "checked": dict(sorted(self.checked.items())),
            "summary": dict(sorted(self.codes().items())),
            "findings": [f.to_json() for f in self.findings],
        }
