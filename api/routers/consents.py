"""Consents: record and withdraw them (operator), check one before a use (partner)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from api.auth import Operator, StateDep, require, state_of
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
async def check_consent(body: CheckBody, key: Partner, request: Request) -> FastJSON:
    """Is this use (this partner's institution, this purpose, now) covered by a consent?

    Every check, granted or refused, is logged as an inquiry and later anchored.
    """
    assert key.institution is not None  # a partner key is always bound to one
    state = state_of(request)  # not a dependency: each costs ~20 µs per request
    institution, purpose = key.institution, body.purpose
    service = state.gate.connected_consent_service()
    if service is None:
        service = await run_in_threadpool(state.gate.consent_service)
    # The verdict on the event loop when the store and cached chain statuses
    # suffice; otherwise in a thread, which may read the chain.
    decision = service.decide(
        body.subject, institution=institution, purpose=purpose, cached_only=True
    )
    if decision is None:
        decision = await run_in_threadpool(
            lambda: service.decide(body.subject, institution=institution, purpose=purpose)
        )
    assert decision is not None
    # Answered only once its inquiry is durable: committed with the other checks of
    # this loop pass (api.inquirywriter), by the writer thread if the store is busy.
    inquiry = service.inquiry(decision, requested_by=key.name)
    await state.inquiry_writer(service.inquiries).write(inquiry)
    state.inquiry_logged()
    request.app.state.metrics.count_consent_check(
        "granted" if decision.granted else decision.reason
    )
    return FastJSON(service.answer(decision, inquiry).to_json())


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
