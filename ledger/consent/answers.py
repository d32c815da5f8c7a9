"""What the API and CLI are given: a check's answer and a consent as shown.

Neither carries the subject's identity: a consent is shown with its receipt,
which names the borrower only by pseudonym.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from ledger import jsontext
from ledger.chain.types import ConsentRecord
from ledger.consent.receipt import iso
from ledger.store import Consent


@dataclass(frozen=True)
class OnChainEvidence:
    chain_id: int | None
    registry: str | None
    tx_hash: str | None
    block_number: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "registry": self.registry,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
        }


@dataclass(frozen=True)
class CheckResult:
    """The answer to one consent check; never carries the subject's identity."""

    granted: bool
    reason: str
    inquiry_id: str
    checked_at: str
    purpose: str
    institution: str
    consent_id: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    revoked_at: str | None = None
    evidence: OnChainEvidence | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "granted": self.granted,
            "reason": self.reason,
            "inquiry_id": self.inquiry_id,
            "checked_at": self.checked_at,
            "purpose": self.purpose,
            "institution": self.institution,
            "consent_id": self.consent_id,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "revoked_at": self.revoked_at,
            "on_chain": None if self.evidence is None else self.evidence.to_json(),
        }


@lru_cache(maxsize=1024)
def iso_seconds(value: int | None) -> str | None:
    return None if not value else iso(datetime.fromtimestamp(value, UTC))


def consent_json(row: Consent, on_chain: ConsentRecord | None = None) -> dict[str, Any]:
    """A consent as the API and CLI show it: the receipt (it holds only a pseudonym) and state."""
    data: dict[str, Any] = {
        "consent_id": row.consent_id,
        "commitment": row.commitment,
        "status": "erased" if row.erased_at else row.status,
        "valid_from": iso_seconds(row.valid_from),
        "valid_until": iso_seconds(row.valid_until),
        "revoked_at": iso_seconds(row.revoked_at),
        "revocation_status": row.revoke_status,
        "supersedes": row.supersedes,
        "superseded_by": row.superseded_by,
        "erased_at": row.erased_at,
        "receipt": None if row.receipt is None else jsontext.loads(row.receipt),
        "on_chain": OnChainEvidence(
            row.chain_id, row.registry_address, row.tx_hash, row.block_number
        ).to_json(),
        "revocation_on_chain": None
        if row.revoke_tx_hash is None
        else {"tx_hash": row.revoke_tx_hash, "block_number": row.revoke_block_number},
    }
    if on_chain is not None:
        data["chain_status"] = {
            "commitment": "0x" + on_chain.commitment.hex(),
            "valid_from": iso_seconds(on_chain.valid_from),
            "valid_until": iso_seconds(on_chain.valid_until),
            "revoked_at": iso_seconds(on_chain.revoked_at),
            "recorded_block": on_chain.recorded_block,
        }
    return data


def check_result(
    granted: bool,
    reason: str,
    inquiry: dict[str, Any],
    row: Any,
    on_chain: ConsentRecord | None,
) -> CheckResult:
    """The answer to a check whose inquiry row is ``inquiry``; ``row``: the consent it names."""
    base = {
        "granted": granted,
        "reason": reason,
        "inquiry_id": inquiry["inquiry_id"],
        "checked_at": inquiry["checked_at"],
        "purpose": inquiry["purpose"],
        "institution": inquiry["institution"],
    }
    if row is None:
        return CheckResult(**base)
    revoked = [x for x in (row.revoked_at, on_chain.revoked_at if on_chain else 0) if x]
    return CheckResult(
        **base,
        consent_id=row.consent_id,
        valid_from=iso_seconds(row.valid_from),
        valid_until=iso_seconds(row.valid_until),
        revoked_at=iso_seconds(min(revoked)) if revoked else None,
        evidence=OnChainEvidence(row.chain_id, row.registry_address, row.tx_hash, row.block_number),
    )
