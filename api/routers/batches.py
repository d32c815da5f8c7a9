"""``GET /v1/batches/{batch_id}``: a batch's manifest, status and anchor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.auth import AnyRole, StateDep
from api.jsonbody import FastJSONRoute
from api.models import HEX32_PATTERN, BatchOut, problems
from api.verify import batch_json
from ledger.errors import NotFoundError
from ledger.store import Batch

router = APIRouter(prefix="/v1/batches", tags=["batches"], route_class=FastJSONRoute)
BatchId = Annotated[str, Path(pattern=HEX32_PATTERN, examples=["0x" + "77" * 32])]


@router.get("/{batch_id}", responses=problems(401, 403, 404, 422))
def get_batch(batch_id: BatchId, state: StateDep, _key: AnyRole) -> BatchOut:
    """A batch: its manifest, status (pending or anchored) and anchor."""
    with state.store.session() as s:
        batch = s.get(Batch, batch_id)
    if batch is None:
        raise NotFoundError(f"no batch {batch_id}")
    data: dict[str, Any] = batch_json(batch)
    return BatchOut.model_validate(data)
