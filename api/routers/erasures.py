"""``POST /v1/erasures`` (operator): erase a borrower at their request (PIPL Art. 47)."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import Operator, StateDep
from api.consent_models import EraseBody, ErasureOut
from api.models import problems
from ledger.consent.erasure import erase_subject

router = APIRouter(prefix="/v1/erasures", tags=["consents"])


@router.post("", status_code=201, responses=problems(401, 403, 404, 413, 422, 503))
def erase(body: EraseBody, state: StateDep, key: Operator) -> ErasureOut:
    """Drop the subject's records, salts, consent receipts and pseudonyms from the store.

    The chain is untouched; the erased leaves' hashes stay in their batches, so other
    proofs still hold, and verifying an erased leaf answers ``erased``.
    """
    pseudonym = state.desensitiser().pseudonym("subject_pseudonym", body.subject.as_record())
    report = erase_subject(state.store, pseudonym, requested_by=key.name)
    return ErasureOut.model_validate(report.to_json())
