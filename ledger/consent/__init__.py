"""Consent receipts, their on-chain commitments, consent checks and the inquiry log.

The names load on first use (:mod:`ledger._lazy`): :mod:`ledger.consent.receipt`
alone imports no chain stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger import _lazy

if TYPE_CHECKING:
    from ledger.consent.answers import CheckResult, consent_json
    from ledger.consent.inquiries import InquiryEntry, InquiryLog
    from ledger.consent.receipt import PURPOSES, ConsentGrant, Subject, parse_grant
    from ledger.consent.service import ConsentService

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

_RECEIPT, _ANSWERS, _INQUIRIES = (
    "ledger.consent.receipt", "ledger.consent.answers", "ledger.consent.inquiries",
)  # fmt: skip
__getattr__ = _lazy.exports(
    __name__,
    {
        "PURPOSES": _RECEIPT,
        "ConsentGrant": _RECEIPT,
        "Subject": _RECEIPT,
        "parse_grant": _RECEIPT,
        "CheckResult": _ANSWERS,
        "ConsentService": "ledger.consent.service",
        "consent_json": _ANSWERS,
        "InquiryEntry": _INQUIRIES,
        "InquiryLog": _INQUIRIES,
    },
)
