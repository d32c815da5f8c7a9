"""What a consent check answers: its refusal reasons, and which of them mean tampering.

Plain constants with no imports, so readers that only report on checks (the
alerts' monitoring) take them from here without loading the chain code.
"""

from __future__ import annotations

from typing import Final

#: Refusal reasons, most telling first: the one a refused check reports.
REASONS: Final = (
    "receipt_mismatch",
    "receipt_id_mismatch",
    "revoked",
    "superseded",
    "expired",
    "not_yet_valid",
    "not_on_chain",
    "purpose_not_covered",
    "no_consent",
)
GRANTED: Final = "valid"
#: The log line of a refusal that means the store was tampered with, by reason
#: (an id mismatch by the id the receipt gets wrong).
TAMPERED: Final = {
    "receipt_mismatch": "consent receipt does not match its commitment",
    "receipt_id_mismatch": "consent receipt names another consent id or subject than its row",
    "consent_id": "consent receipt names another consent id than the one it is stored under",
    "subject": "consent receipt names another subject than its row",
}
#: Refusal reasons that mean the store was tampered with.
ANOMALIES: Final = frozenset(TAMPERED) & frozenset(REASONS)
