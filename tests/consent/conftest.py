"""A deployed data dir, an open ledger and a ready-made consent grant."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.config import Settings
from ledger.consent import ConsentGrant, ConsentService, InquiryLog, Subject
from ledger.records.identifiers import gb11643_check_digit
from ledger.wiring import Ledger
from tests.records.sample import ID_NUMBER, ORG

BANK = "BANK-A"
OTHER_BANK = "BANK-B"
#: A fixed instant the tests reason from (well before "now").
T0 = datetime(2026, 1, 1, tzinfo=UTC)
OTHER_ID = "11010119850101002" + gb11643_check_digit("11010119850101002")


def grant_json(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "subject": {"id_type": "10", "id_number": ID_NUMBER},
        "controller": {"name": "Example Lending Co.", "institution": "LENDER-1"},
        "notice": {"version": "2026.1", "hash": "0x" + "11" * 32},
        "purposes": ["LOAN_APPROVAL", "POST_LOAN_MANAGEMENT"],
        "data_categories": ["identity", "loan_account", "repayment"],
        "recipients": [BANK, "LENDER-1"],
        "separate_consent": True,
        "written_form": True,
        "evidence": {"method": "e-signature", "document_hash": "0x" + "22" * 32},
        "valid_from": T0.isoformat(),
        "valid_until": (T0 + timedelta(days=365)).isoformat(),
    }
    data.update(changes)
    return data


def refused_inquiry(institution: str = BANK, checked_at: datetime = T0) -> dict[str, Any]:
    """The fields of a refused check, as :meth:`InquiryLog.log` and ``row`` take them."""
    return {
        "institution": institution,
        "requested_by": "pytest",
        "subject_pseudonym": "0x" + "ab" * 32,
        "purpose": "LOAN_APPROVAL",
        "consent_id": None,
        "result": "refused",
        "reason": "no_consent",
        "checked_at": checked_at,
    }


def inquiry_row(log: InquiryLog, checked_at: datetime = T0) -> dict[str, Any]:
    """A new refused inquiry's row (not written yet), for tests of the writers."""
    return log.row(**refused_inquiry(checked_at=checked_at))


def make_grant(**changes: Any) -> ConsentGrant:
    return ConsentGrant.model_validate(grant_json(**changes))


@pytest.fixture
def ledger(data_dir: Path, db_url: str, deploy_copy: Callable[[Path], Path]) -> Iterator[Ledger]:
    """A deployed ledger whose store is SQLite or PostgreSQL (``db_url``)."""
    deploy_copy(data_dir)  # what `ledger deploy` leaves
    settings = Settings(data_dir=data_dir, rpc_url=None, db_url=db_url)
    with Ledger.open(settings, holder="pytest") as opened:
        yield opened


@pytest.fixture
def consents(ledger: Ledger) -> ConsentService:
    return ledger.consents()


@pytest.fixture
def check(consents: ConsentService) -> Callable[..., Any]:
    def run(
        at: datetime,
        *,
        institution: str = BANK,
        purpose: str = "LOAN_APPROVAL",
        id_number: str = ID_NUMBER,
    ) -> Any:
        return consents.check(
            Subject(id_number=id_number),
            institution=institution,
            purpose=purpose,
            requested_by="pytest",
            at=at,
        )

    return run


__all__ = ["BANK", "ORG", "OTHER_BANK", "OTHER_ID", "T0", "grant_json", "make_grant"]
