"""``POST /v1/verify``: are these records (or leaf hashes) anchored?"""

from __future__ import annotations

from collections import Counter
from typing import get_args

from fastapi import APIRouter, Request

from api import verify as service
from api.auth import Reader, StateDep
from api.models import (
    BundleOut,
    OutcomeName,
    VerifyItem,
    VerifyRequest,
    VerifyResponse,
    problems,
)

router = APIRouter(prefix="/v1", tags=["verify"])
OUTCOMES: tuple[str, ...] = get_args(OutcomeName)


@router.post(
    "/verify", response_model_exclude_none=True, responses=problems(400, 401, 403, 413, 422)
)
def verify(body: VerifyRequest, state: StateDep, _key: Reader, request: Request) -> VerifyResponse:
    """Per item: anchored (with its proof bundle), pending, unknown or mismatch."""
    if body.records is not None:
        hashes = service.record_hashes(body.records)
    else:
        hashes = [bytes.fromhex(h[2:]) for h in body.leaf_hashes or ()]
    outcomes = service.verify(state.store, hashes, body.records)
    counts: Counter[str] = Counter(o.status for o in outcomes)
    for outcome, n in counts.items():
        request.app.state.metrics.verify_outcomes.labels(outcome).inc(n)
    results = [
        VerifyItem(
            index=i,
            status=o.status,
            leaf_hash="0x" + o.leaf_hash.hex(),
            batch_id=o.batch_id,
            bundle=None if o.bundle is None else BundleOut.model_validate(o.bundle_json()),
        )
        for i, o in enumerate(outcomes)
    ]
    return VerifyResponse(counts={k: counts[k] for k in OUTCOMES}, results=results)
