"""``POST /v1/verify``: are these records (or leaf hashes) anchored?"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Annotated, Any, Final, get_args

from fastapi import APIRouter, Body, Request
from pydantic import SkipValidation
from starlette.concurrency import run_in_threadpool

from api import verify as service
from api.auth import Reader, state_of
from api.body import validated
from api.jsonbody import FastJSONRoute, RecordTexts, is_plain, read_records
from api.metrics import Metrics
from api.models import OutcomeName, VerifyRequest, VerifyResponse, problems
from api.responses import FastJSON
from api.state import AppState
from ledger.proofs import leaf_hash


class _VerifyRoute(FastJSONRoute):
    #: A records body is read straight to its records' JCS bytes where it can be.
    reader = staticmethod(read_records)


router = APIRouter(prefix="/v1", tags=["verify"], route_class=_VerifyRoute)
OUTCOMES: tuple[str, ...] = get_args(OutcomeName)
#: Requests of up to this many items are answered on the event loop (well under a
#: millisecond each); larger ones go to the threadpool so they do not stall others.
INLINE_ITEMS: Final = 16
#: Documented as VerifyRequest, parsed by FastAPI (or read by ``read_records``),
#: validated by api.body.validated.
VerifyBody = Annotated[VerifyRequest, SkipValidation(), Body(title="VerifyRequest")]


@router.post(
    "/verify",
    response_model=VerifyResponse,
    response_model_exclude_none=True,
    responses=problems(400, 401, 403, 413, 422),
)
async def verify(body: VerifyBody, _key: Reader, request: Request) -> FastJSON:
    """Per item: anchored (with its proof bundle), pending, unknown or mismatch."""
    state, metrics = state_of(request), request.app.state.metrics
    job: Callable[[], dict[str, Any]]
    if isinstance(body, RecordTexts):  # valid as it stands (see api.jsonbody.read_records)
        size = len(body.texts)
        job = partial(answer_texts, state, body, metrics)
    else:
        checked = validated(VerifyRequest, body, fast=VerifyRequest.plainly_valid)
        size = len(checked.records or checked.leaf_hashes or ())
        job = partial(answer, state, checked, metrics, plain=is_plain(request))
    if size <= INLINE_ITEMS:
        return FastJSON(job())
    return FastJSON(await run_in_threadpool(job))


def answer(
    state: AppState, body: VerifyRequest, metrics: Metrics, *, plain: bool = False
) -> dict[str, Any]:
    """The ``VerifyResponse`` as plain data (``plain``: see ``api.jsonbody.is_plain``)."""
    if body.records is not None:
        texts = service.record_texts(body.records, plain=plain)
        return _answer(state, metrics, list(map(leaf_hash, texts)), body.records, texts)
    hashes = [bytes.fromhex(h[2:]) for h in body.leaf_hashes or ()]
    return _answer(state, metrics, hashes)


def answer_texts(state: AppState, body: RecordTexts, metrics: Metrics) -> dict[str, Any]:
    """The ``VerifyResponse`` for records given as their JCS bytes (and leaf hashes)."""
    texts = body.texts
    return _answer(state, metrics, body.hashes, service.ParsedOnDemand(texts), texts)


def _answer(
    state: AppState,
    metrics: Metrics,
    hashes: list[bytes],
    records: Sequence[Mapping[str, Any]] | None = None,
    texts: Sequence[bytes] | None = None,
) -> dict[str, Any]:
    results = service.verify(state.store, state.db, hashes, records, texts)
    counts = dict.fromkeys(OUTCOMES, 0)
    for item in results:
        counts[item["status"]] += 1
    metrics.count_outcomes(counts)
    return {"counts": counts, "results": results}
