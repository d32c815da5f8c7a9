"""``POST /v1/verify``: are these records (or leaf hashes) anchored?"""

from __future__ import annotations

from typing import Annotated, Any, Final, get_args

from fastapi import APIRouter, Body, Request
from pydantic import SkipValidation
from starlette.concurrency import run_in_threadpool

from api import verify as service
from api.auth import Reader, state_of
from api.body import validated
from api.jsonbody import FastJSONRoute, is_plain
from api.metrics import Metrics
from api.models import OutcomeName, VerifyRequest, VerifyResponse, problems
from api.responses import FastJSON
from api.state import AppState

router = APIRouter(prefix="/v1", tags=["verify"], route_class=FastJSONRoute)
OUTCOMES: tuple[str, ...] = get_args(OutcomeName)
#: Requests of up to this many items are answered on the event loop (well under a
#: millisecond each); larger ones go to the threadpool so they do not stall others.
INLINE_ITEMS: Final = 16
#: Documented as VerifyRequest, parsed by FastAPI, validated by api.body.validated.
VerifyBody = Annotated[VerifyRequest, SkipValidation(), Body(title="VerifyRequest")]


@router.post(
    "/verify",
    response_model=VerifyResponse,
    response_model_exclude_none=True,
    responses=problems(400, 401, 403, 413, 422),
)
async def verify(body: VerifyBody, _key: Reader, request: Request) -> FastJSON:
    """Per item: anchored (with its proof bundle), pending, unknown or mismatch."""
    checked = validated(VerifyRequest, body, fast=VerifyRequest.plainly_valid)
    state, metrics = state_of(request), request.app.state.metrics
    items = checked.records or checked.leaf_hashes or ()
    plain = is_plain(request)
    if len(items) <= INLINE_ITEMS:
        return FastJSON(answer(state, checked, metrics, plain=plain))
    return FastJSON(await run_in_threadpool(answer, state, checked, metrics, plain=plain))


def answer(
    state: AppState, body: VerifyRequest, metrics: Metrics, *, plain: bool = False
) -> dict[str, Any]:
    """The ``VerifyResponse`` as plain data (``plain``: see ``api.jsonbody.is_plain``)."""
    if body.records is not None:
        hashes = service.record_hashes(body.records, plain=plain)
    else:
        hashes = [bytes.fromhex(h[2:]) for h in body.leaf_hashes or ()]
    results = service.verify(state.store, state.db, hashes, body.records)
    counts = dict.fromkeys(OUTCOMES, 0)
    for item in results:
        counts[item["status"]] += 1
    metrics.count_outcomes(counts)
    return {"counts": counts, "results": results}
