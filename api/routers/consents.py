"""Consents: record and withdraw them (operator), check one before a use (partner)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path
from starlette.concurrency import run_in_threadpool

from api.auth import Operator, StateDep, require
from api.consent_models import (
    CheckBody,
    CheckOut,
    ConsentList,
    ConsentOut,
    GrantBatch,
    GrantBody,
    RevokeBody,
)
from api.models import problems
from api.responses import FastJSON
from ledger.consent import consent_json
from ledger.consent.receipt import HEX32
from ledger.store.apikeys import KeyInfo, Role

router = APIRouter(prefix="/v1/consents", tags=["consents"])
ConsentIdPath = Annotated[str, Path(pattern=HEX32, examples=["0x" + "ab" * 32])]
Partner = Annotated[KeyInfo, Depends(require(Role.PARTNER))]
OperatorOrAuditor = Annotated[KeyInfo, Depends(require(Role.OPERATOR, Role.AUDITOR))]


@router.post("", status_code=201, responses=problems(401, 403, 409, 413, 422, 503))
def record_consents(body: GrantBody, state: StateDep, _key: Operator) -> ConsentList:
    """Record one consent, or several (``{"consents": [...]}``) in batched transactions.

    The receipt keeps only the borrower's keyed pseudonym; its SHA-256 goes on chain.
    """
    grants = body.consents if isinstance(body, GrantBatch) else [body]
    with state.gate.consents() as service:
        rows = service.grant(list(grants))
    return ConsentList.model_validate({"consents": [consent_json(r) for r in rows]})


@router.post(
    "/check",
    response_model=CheckOut,
    responses=problems(401, 403, 413, 422, 503),
    openapi_extra={"x-logged": "inquiry"},
)
async def check_consent(body: CheckBody, state: StateDep, key: Partner) -> FastJSON:
    """Is this use (this partner's institution, this purpose, now) covered by a consent?

    Every check, granted or refused, is logged as an inquiry and later anchored.
    """
    assert key.institution is not None  # a partner key is always bound to one
    institution = key.institution

    def run() -> dict[str, object]:
        # Store work unlocked, chain reads under the chain lock; the inquiry's commit
        # may wait on a shared fsync, so this runs off the event loop.
        service = state.gate.consent_service()
        result = service.check(
            body.subject, institution=institution, purpose=body.purpose, requested_by=key.name
        )
        state.inquiry_logged()
        return result.to_json()

    return FastJSON(await run_in_threadpool(run))


@router.post("/{consent_id}/revoke", responses=problems(401, 403, 404, 409, 422, 503))
def revoke_consent(
    consent_id: ConsentIdPath,
    state: StateDep,
    _key: Operator,
    body: Annotated[RevokeBody | None, Body()] = None,
) -> ConsentOut:
    """Withdraw a consent (PIPL Art. 15) from now or from ``revoked_at``; recorded on chain."""
    with state.gate.consents() as service:
        row = service.revoke(consent_id, None if body is None else body.revoked_at)
    return ConsentOut.model_validate(consent_json(row))


@router.get("/{consent_id}", responses=problems(401, 403, 404, 422, 503))
def get_consent(
    consent_id: ConsentIdPath,
    state: StateDep,
    _key: OperatorOrAuditor,
) -> ConsentOut:
    """A consent with its receipt (pseudonymous), state and on-chain status."""
    with state.gate.consents() as service:
        shown = service.show(consent_id)
    return ConsentOut.model_validate(shown)
