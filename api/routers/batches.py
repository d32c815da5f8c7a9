"""``GET /v1/batches/{batch_id}``: a batch's manifest, status and anchor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import AnyRole, StateDep
from api.models import HEX32_PATTERN, BatchOut, problems
from ledger.anchoring.bundles import batch_view

router = APIRouter(prefix="/v1/batches", tags=["batches"])
BatchId = Annotated[str, Path(pattern=HEX32_PATTERN, examples=["0x" + "77" * 32])]


@router.get("/{batch_id}", responses=problems(401, 403, 404, 422, 503))
def get_batch(batch_id: BatchId, state: StateDep, _key: AnyRole) -> BatchOut:
    """A batch: its manifest, status (pending, confirming or anchored) and anchor."""
    return BatchOut.model_validate(batch_view(state.store, batch_id))
