"""``POST /v1/verify``: are these records (or leaf hashes) anchored?"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.auth import Reader, state_of
from api.models import VerifyRequest, VerifyResponse, problems
from api.responses import FastJSON
from ledger.store import Store
from ledger.verify import verify_leaf_hashes, verify_records

router = APIRouter(prefix="/v1", tags=["verify"])
#: Requests of up to this many items are answered on the event loop (well under a
#: millisecond each); larger ones go to the threadpool so they do not stall others.
INLINE_ITEMS: Final = 16


@router.post(
    "/verify",
    response_model=VerifyResponse,
    response_model_exclude_none=True,
    responses=problems(400, 401, 403, 413, 422, 503),
)
async def verify(body: VerifyRequest, _key: Reader, request: Request) -> FastJSON:
    """Per item: anchored (with its proof bundle), pending, unknown or mismatch."""
    store = state_of(request).store
    size = len(body.records or body.leaf_hashes or ())
    if size <= INLINE_ITEMS:
        answer = answer_for(store, body)
    else:
        answer = await run_in_threadpool(answer_for, store, body)
    request.app.state.metrics.count_outcomes(answer["counts"])
    return FastJSON(answer)


def answer_for(store: Store, body: VerifyRequest) -> dict[str, Any]:
    """The ``VerifyResponse`` as plain data (bundles as JSON fragments)."""
    if body.records is not None:
        return verify_records(store, body.records)
    return verify_leaf_hashes(store, [bytes.fromhex(h[2:]) for h in body.leaf_hashes or ()])
