"""Request and response bodies of the consent, inquiry and erasure routes.

Requests reuse the library's own models (:class:`~ledger.consent.ConsentGrant`,
:class:`~ledger.consent.Subject`), so the API and ``ledger consent grant`` accept
exactly the same documents. No response carries an ID number.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body
from pydantic import BaseModel, ConfigDict, Field

from ledger.consent import ConsentGrant, Subject
from ledger.consent.receipt import HEX32, Purpose, UtcTime

_H = "0x" + "ab" * 32
_T = "2026-11-26T08:00:00Z"

GRANT_EXAMPLE: dict[str, Any] = {
    "subject": {"id_type": "10", "id_number": "110101199003070011"},
    "controller": {"name": "Example Lending Co.", "institution": "LENDER-1"},
    "notice": {"version": "2026.1", "hash": _H},
    "purposes": ["LOAN_APPROVAL", "POST_LOAN_MANAGEMENT"],
    "data_categories": ["identity", "loan_account", "repayment"],
    "recipients": ["BANK-A", "LENDER-1"],
    "separate_consent": True,
    "written_form": True,
    "evidence": {"method": "e-signature", "document_hash": _H},
    "valid_from": "2026-11-26T00:00:00Z",
    "valid_until": "2027-11-26T00:00:00Z",
}


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GrantBatch(BaseModel):
    """Several consents, recorded on chain in batched transactions."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"consents": [GRANT_EXAMPLE]}]}
    )

    consents: Annotated[list[ConsentGrant], Field(min_length=1, max_length=1000)]


GrantBody = Annotated[
    ConsentGrant | GrantBatch,
    Body(
        openapi_examples={
            "one": {"summary": "one consent", "value": GRANT_EXAMPLE},
            "many": {"summary": "several at once", "value": {"consents": [GRANT_EXAMPLE]}},
        }
    ),
]


class OnChain(_Out):
    chain_id: int | None
    registry: str | None
    tx_hash: str | None
    block_number: int | None


class ChainStatus(_Out):
    commitment: str
    valid_from: str | None
    valid_until: str | None
    revoked_at: str | None
    recorded_block: int


class Revocation(_Out):
    tx_hash: str
    block_number: int | None


CONSENT_EXAMPLE: dict[str, Any] = {
    "consent_id": _H,
    "commitment": "0x" + "cd" * 32,
    "status": "recorded",
    "valid_from": "2026-11-26T00:00:00Z",
    "valid_until": "2027-11-26T00:00:00Z",
    "revoked_at": None,
    "revocation_status": None,
    "supersedes": None,
    "superseded_by": None,
    "erased_at": None,
    "receipt": {"format": "credit-anchor/consent-receipt/v1", "consent_id": _H},
    "on_chain": {
        "chain_id": 131277322940537,
        "registry": "0x" + "12" * 20,
        "tx_hash": _H,
        "block_number": 42,
    },
    "revocation_on_chain": None,
}


class ConsentOut(_Out):
    """A consent: its pseudonymous receipt, its state and its on-chain evidence."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [CONSENT_EXAMPLE]})

    consent_id: str
    commitment: str
    status: Literal["pending", "recorded", "erased"]
    valid_from: str | None
    valid_until: str | None
    revoked_at: str | None
    revocation_status: Literal["pending", "recorded"] | None
    supersedes: str | None
    superseded_by: str | None
    erased_at: str | None
    receipt: dict[str, Any] | None
    on_chain: OnChain
    revocation_on_chain: Revocation | None
    chain_status: ChainStatus | None = None


class ConsentList(_Out):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"consents": [CONSENT_EXAMPLE]}]}
    )

    consents: list[ConsentOut]


class RevokeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"revoked_at": _T}]})

    revoked_at: UtcTime | None = Field(default=None, description="default: now")


class CheckBody(BaseModel):
    """Who (in the body, never in a URL) and for what; the institution is the key's."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"subject": GRANT_EXAMPLE["subject"], "purpose": "LOAN_APPROVAL"}]
        },
    )

    subject: Subject
    purpose: Purpose


class CheckOut(_Out):
    """Granted or refused, why, the consent relied on and the logged inquiry."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "granted": True,
                    "reason": "valid",
                    "inquiry_id": "0x" + "ef" * 32,
                    "checked_at": _T,
                    "purpose": "LOAN_APPROVAL",
                    "institution": "BANK-A",
                    "consent_id": _H,
                    "valid_from": "2026-11-26T00:00:00Z",
                    "valid_until": "2027-11-26T00:00:00Z",
                    "revoked_at": None,
                    "on_chain": CONSENT_EXAMPLE["on_chain"],
                }
            ]
        },
    )

    granted: bool
    reason: str
    inquiry_id: str
    checked_at: str
    purpose: str
    institution: str
    consent_id: str | None
    valid_from: str | None
    valid_until: str | None
    revoked_at: str | None
    on_chain: OnChain | None


class InquiryOut(_Out):
    inquiry_id: str
    institution: str
    requested_by: str
    subject_pseudonym: str | None
    purpose: str
    consent_id: str | None
    result: Literal["granted", "refused"]
    reason: str
    checked_at: str
    batch_id: str | None
    leaf_index: int | None


class InquiryPage(_Out):
    """Inquiries oldest first; pass ``next`` as ``after`` for the following page."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "inquiries": [
                        {
                            "inquiry_id": "0x" + "ef" * 32,
                            "institution": "BANK-A",
                            "requested_by": "bank-a",
                            "subject_pseudonym": "0x" + "51" * 32,
                            "purpose": "LOAN_APPROVAL",
                            "consent_id": _H,
                            "result": "granted",
                            "reason": "valid",
                            "checked_at": _T,
                            "batch_id": None,
                            "leaf_index": None,
                        }
                    ],
                    "next": None,
                }
            ]
        },
    )

    inquiries: list[InquiryOut]
    next: int | None


class EraseBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"subject": GRANT_EXAMPLE["subject"]}]}
    )

    subject: Subject


class ErasureOut(_Out):
    """What was erased; no personal data, no pseudonym."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "erasure_id": "0x" + "99" * 32,
                    "erased_at": _T,
                    "records": 12,
                    "consents": 1,
                    "inquiries": 3,
                    "batches": ["0x" + "77" * 32],
                    "left_on_disk": [],
                }
            ]
        },
    )

    erasure_id: str
    erased_at: str
    records: int
    consents: int
    inquiries: int
    batches: list[str]
    left_on_disk: list[str] = Field(
        default_factory=list,
        description="What of the erased values the store's database files may still "
        "hold (write-ahead log, old row versions), each with what an operator does; "
        "empty when nothing is left.",
    )


ConsentId = Annotated[str, Field(pattern=HEX32)]
