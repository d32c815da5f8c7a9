"""Consent receipts, their on-chain commitments, consent checks and the inquiry log.

The names load on first use (:mod:`ledger._lazy`): :mod:`ledger.consent.receipt`
alone imports no chain stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger import _lazy

if TYPE_CHECKING:
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

_RECEIPT, _SERVICE, _INQUIRIES = (
    "ledger.consent.receipt", "ledger.consent.service", "ledger.consent.inquiries",
)  # fmt: skip
__getattr__ = _lazy.exports(
    __name__,
    {
        "PURPOSES": _RECEIPT,
        "ConsentGrant": _RECEIPT,
        "Subject": _RECEIPT,
        "parse_grant": _RECEIPT,
        "CheckResult": _SERVICE,
        "ConsentService": _SERVICE,
        "consent_json": _SERVICE,
        "InquiryEntry": _INQUIRIES,
        "InquiryLog": _INQUIRIES,
    },
)
