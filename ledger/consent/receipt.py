"""Consent receipts: the Kantara Consent Receipt v1.1 fields plus what PIPL asks for.

A grant (:class:`ConsentGrant`) names the borrower by ID type and number; the
receipt built from it (:func:`build_receipt`) names them only by the keyed
pseudonym the records carry (``subject_pseudonym``), so a consent and the
borrower's records meet in the store without the ID number being kept anywhere.
Each receipt carries 32 random bytes of salt; its commitment, the value recorded
on chain, is SHA-256 over its RFC 8785 bytes::

    {"format": "credit-anchor/consent-receipt/v1", "kantara_version": "1.1",
     "jurisdiction": "CN", "consent_id": "0x..", "consent_timestamp": "..Z",
     "controller": {"name": .., "institution": .., "contact": ..},
     "notice": {"version": .., "hash": "0x..", "url": ..},
     "subject": {"pseudonym": "0x..", "key_id": "subject-1"},
     "purposes": [..], "data_categories": [..], "recipients": [..],
     "separate_consent": true, "written_form": true, "sensitive": true, "language": "zh-CN",
     "evidence": {"method": .., "document_hash": "0x.."},
     "valid_from": "..Z", "valid_until": "..Z" | null, "supersedes": "0x.." | null,
     "salt": "0x.."}

Purposes, data categories and recipients are sorted and unique, so equal
consents have equal bytes apart from their salt and id.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from ledger.errors import InputError
from ledger.proofs import canonical_bytes
from ledger.records.identifiers import resident_id_facts
from ledger.records.schema import ID_TYPE_RESIDENT

RECEIPT_FORMAT: Final = "credit-anchor/consent-receipt/v1"
KANTARA_VERSION: Final = "1.1"

Purpose = Literal[
    "CREDIT_REPORTING",
    "LOAN_APPROVAL",
    "POST_LOAN_MANAGEMENT",
    "CREDIT_CARD_APPROVAL",
    "GUARANTEE_REVIEW",
    "JOINT_LENDING_RISK",
]
PURPOSES: Final[tuple[str, ...]] = get_args(Purpose)
#: What the borrower agreed may be processed (the fields of credit-account-report v1).
DataCategory = Literal[
    "identity", "contact", "loan_account", "repayment", "overdue", "classification", "funding"
]
#: How the consent was obtained (Kantara "collection method").
EvidenceMethod = Literal["e-signature", "handwritten", "in-app", "recorded-call"]

HEX32: Final = r"^0x[0-9a-f]{64}$"
INSTITUTION: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
Hex32 = Annotated[str, Field(pattern=HEX32, examples=["0x" + "ab" * 32])]
Institution = Annotated[str, Field(pattern=INSTITUTION, examples=["BANK-A"])]
#: Free text of the controller side; never personal data of the borrower.
Text = Annotated[str, Field(min_length=1, max_length=200)]


#: Times go on chain as unsigned seconds (the registry stores 40 bits).
EPOCH: Final = datetime(1970, 1, 2, tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-11-26T08:00:00Z")
    if value < EPOCH:
        raise ValueError("must be after 1970-01-02T00:00:00Z")
    return value.astimezone(UTC).replace(microsecond=0)


UtcTime = Annotated[datetime, AfterValidator(_utc)]


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@lru_cache(maxsize=1024)  # a check formats the same few seconds over and over
def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds(value: datetime) -> int:
    return int(value.timestamp())


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Subject(_Model):
    """The borrower, as the lender knows them. Input only: never stored or echoed."""

    id_type: Annotated[str, Field(pattern=r"^[0-9A-Z]{1,2}$")] = ID_TYPE_RESIDENT
    id_number: Annotated[str, Field(min_length=1, max_length=64, repr=False)]

    @model_validator(mode="after")
    def _valid_id(self) -> Subject:
        if self.id_type == ID_TYPE_RESIDENT and (problem := resident_id_facts(self.id_number)[0]):
            raise ValueError(problem)  # the reason, never the number
        return self

    def as_record(self) -> dict[str, str]:
        """The fields a pseudonym is made of, as the desensitiser expects them."""
        return {"subject_id_type": self.id_type, "subject_id_number": self.id_number}


class Controller(_Model):
    name: Text
    institution: Institution
    contact: Text | None = None


class Notice(_Model):
    """The privacy notice the borrower was shown."""

    version: Annotated[str, Field(min_length=1, max_length=40)]
    hash: Hex32
    url: Annotated[str, Field(max_length=300)] | None = None


class Evidence(_Model):
    method: EvidenceMethod
    document_hash: Hex32


class ConsentGrant(_Model):
    """A consent to record: who agreed to what, shown which notice, for how long."""

    subject: Subject
    controller: Controller
    notice: Notice
    purposes: Annotated[list[Purpose], Field(min_length=1, max_length=len(PURPOSES))]
    data_categories: Annotated[list[DataCategory], Field(min_length=1, max_length=10)]
    recipients: Annotated[list[Institution], Field(min_length=1, max_length=100)]
    separate_consent: bool
    written_form: bool
    #: Credit data includes financial accounts: sensitive personal information (PIPL Art. 28).
    sensitive: bool = True
    #: Language of the notice the borrower saw (BCP 47).
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] = "zh-CN"
    evidence: Evidence
    collected_at: UtcTime | None = None
    valid_from: UtcTime | None = None
    valid_until: UtcTime | None = None
    supersedes: Hex32 | None = None

    @model_validator(mode="after")
    def _rules(self) -> ConsentGrant:
        start = self.valid_from or datetime.now(UTC)
        if self.valid_until and self.valid_until <= start:
            raise ValueError("valid_until must be after valid_from (default: now)")
        if self.sensitive and not self.separate_consent:
            # PIPL Art. 29: processing sensitive personal information needs separate consent.
            raise ValueError("sensitive personal information needs separate_consent: true")
        third_parties = set(self.recipients) - {self.controller.institution}
        if third_parties and not self.separate_consent:
            # PIPL Art. 23: providing personal information to another processor
            # needs the individual's separate consent.
            raise ValueError("sharing with another institution needs separate_consent: true")
        return self


def parse_grant(data: Any) -> ConsentGrant:
    """A grant from JSON data; errors name the field, never the value."""
    try:
        return ConsentGrant.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """A validation error as ``path: message; ...`` without any input value."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts[:10])


def new_id() -> str:
    return "0x" + os.urandom(32).hex()


def unhex(value: str) -> bytes:
    """The bytes of a ``0x`` hex value (a consent id, a commitment), as the registry takes them."""
    return bytes.fromhex(value.removeprefix("0x"))


def build_receipt(
    grant: ConsentGrant,
    *,
    consent_id: str,
    pseudonym: str,
    key_id: str,
    now: datetime,
    salt: bytes | None = None,
) -> dict[str, Any]:
    """The receipt of ``grant``: no ID number, only the subject's keyed pseudonym."""
    collected = grant.collected_at or now
    valid_from = grant.valid_from or now
    return {
        "format": RECEIPT_FORMAT,
        "kantara_version": KANTARA_VERSION,
        "jurisdiction": "CN",
        "consent_id": consent_id,
        "consent_timestamp": iso(collected),
        "controller": grant.controller.model_dump(exclude_none=True),
        "notice": grant.notice.model_dump(exclude_none=True),
        "subject": {"pseudonym": pseudonym, "key_id": key_id},
        "purposes": sorted(set(grant.purposes)),
        "data_categories": sorted(set(grant.data_categories)),
        "recipients": sorted(set(grant.recipients)),
        "separate_consent": grant.separate_consent,
        "written_form": grant.written_form,
        "sensitive": grant.sensitive,
        "language": grant.language,
        "evidence": grant.evidence.model_dump(),
        "valid_from": iso(valid_from),
        "valid_until": None if grant.valid_until is None else iso(grant.valid_until),
        "supersedes": grant.supersedes,
        "salt": "0x" + (salt or os.urandom(32)).hex(),
    }


def receipt_bytes(receipt: Mapping[str, Any]) -> bytes:
    return canonical_bytes(receipt)


def receipt_ids(receipt: Mapping[str, Any]) -> tuple[Any, Any]:
    """(consent id, subject pseudonym) as the receipt itself names them.

    Both are hashed into the commitment and also kept beside the receipt (its row's
    key, the subject column, the id recorded on chain): wherever both are read they
    must be equal, or the receipt is another consent's, replayed under this id.
    """
    subject = receipt.get("subject")
    pseudonym = subject.get("pseudonym") if isinstance(subject, Mapping) else None
    return receipt.get("consent_id"), pseudonym


def commitment(receipt_canonical: bytes) -> str:
    """What the chain records: SHA-256 of the receipt's RFC 8785 bytes."""
    return "0x" + hashlib.sha256(receipt_canonical).hexdigest()


def window(receipt: Mapping[str, Any]) -> tuple[int, int]:
    """(valid_from, valid_until) in seconds, as on chain (0 = open-ended)."""
    start = datetime.fromisoformat(str(receipt["valid_from"]).replace("Z", "+00:00"))
    until = receipt.get("valid_until")
    end = 0 if until is None else seconds(datetime.fromisoformat(until.replace("Z", "+00:00")))
    return seconds(start), end
