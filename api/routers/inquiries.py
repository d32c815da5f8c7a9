"""``GET /v1/inquiries``: the inquiry log (auditor: all of it; partner: its own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import Reader, StateDep
from api.consent_models import InquiryPage
from api.models import problems
from ledger.store.apikeys import Role

router = APIRouter(prefix="/v1/inquiries", tags=["consents"])
#: Cursors are inquiry sequence numbers, 64-bit signed integers in the store: a larger
#: one (bound to the query) would make the driver fail with a 500 instead of a 422.
MAX_CURSOR = 2**63 - 1


@router.get("", responses=problems(401, 403, 422, 503))
def list_inquiries(
    state: StateDep,
    key: Reader,
    after: Annotated[
        int, Query(ge=0, le=MAX_CURSOR, description="cursor: `next` of the previous page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> InquiryPage:
    """Consent checks oldest first, with their result and (once sealed) their batch."""
    institution = None if key.role is Role.AUDITOR else key.institution
    entries, cursor = state.inquiry_log().entries(institution=institution, after=after, limit=limit)
    return InquiryPage.model_validate({"inquiries": [e.to_json() for e in entries], "next": cursor})
