"""``POST /v1/verify``: are these records (or leaf hashes) anchored?"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from functools import partial
from typing import Annotated, Any, Final, cast, get_args

from fastapi import APIRouter, Body, Request, Response
from fastapi.dependencies.models import Dependant
from pydantic import SkipValidation
from starlette.concurrency import run_in_threadpool

from api import verify as service
from api.auth import KeyBearer, Reader, state_of
from api.body import validated
from api.jsonbody import FastJSONRoute, RecordTexts, is_plain, read_records
from api.limits import replay_body
from api.metrics import Metrics
from api.models import OutcomeName, VerifyRequest, VerifyResponse, problems
from api.responses import FastJSON
from api.state import AppState
from ledger.proofs import leaf_hash


def _only_bearer(dependant: Dependant) -> KeyBearer | None:
    """The endpoint's key check, if all it takes is a body, the request and that check."""
    deps = dependant.dependencies
    if len(deps) != 1 or not isinstance(deps[0].call, KeyBearer) or deps[0].dependencies:
        return None
    others = (
        dependant.query_params, dependant.header_params, dependant.cookie_params,
        dependant.path_params, dependant.background_tasks_param_name,
        dependant.response_param_name,
    )  # fmt: skip
    if any(others) or len(dependant.body_params) != 1:
        return None
    return deps[0].call


def _json_type(content_type: str | None) -> bool:
    """``application/json`` (with parameters or not): a type FastAPI always parses as JSON."""
    return content_type is not None and (
        content_type.partition(";")[0].strip().lower() == "application/json"
    )


def _replayed(request: Request, body: bytes) -> Request:
    """The request again, for a handler that reads its body (already read here) itself."""
    return Request(request.scope, replay_body(body, request.receive))


class _VerifyRoute(FastJSONRoute):
    """FastAPI's handler, and in front of it the usual request answered without it.

    A JSON body the C reader takes is valid as it stands (see
    ``api.jsonbody.read_records``), so all FastAPI would still do for it is solve
    the endpoint's parameters: the key, checked here by the endpoint's very own
    ``KeyBearer`` (whose 401 and 403 reach the same exception handlers), and the
    request. That took a quarter of a single-record verify's time. Every other
    request (another content type, a body the reader leaves, leaf hashes) goes
    to FastAPI's handler, which reads, parses and validates it as ever. The
    endpoint taking any other parameter or dependency turns this off.
    """

    #: A records body is read straight to its records' JCS bytes where it can be.
    reader = staticmethod(read_records)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        fastapi_handler = super().get_route_handler()
        bearer = _only_bearer(self.dependant)
        if bearer is None:
            return fastapi_handler

        async def route(request: Request) -> Response:
            if not LEAN or not _json_type(request.headers.get("content-type")):
                return await fastapi_handler(request)
            body = await request.body()
            read = read_records(body)
            if read is None:
                return await fastapi_handler(_replayed(request, body))
            return await verify(cast(VerifyRequest, read), await bearer(request), request)

        return route


#: Whether the usual request skips FastAPI's parameter solving (tests compare both ways).
LEAN = True
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
