"""Consent receipts, their on-chain commitments, consent checks and the inquiry log."""

from ledger.consent.inquiries import InquiryEntry, InquiryLog
from ledger.consent.receipt import PURPOSES, ConsentGrant, Subject, parse_grant
from ledger.consent.service import CheckResult, ConsentService, consent_json

__all__ = [
    "PURPOSES",
    "CheckResult",
    "ConsentGrant",
    "ConsentService",
    "InquiryEntry",
    "InquiryLog",
    "Subject",
    "consent_json",
    "parse_grant",
]
