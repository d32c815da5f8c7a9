"""Liveness and readiness probes (no auth)."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import StateDep
from api.models import Health, Ready, problems

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health()


@router.get("/readyz", responses=problems(503))
def readyz(state: StateDep) -> Ready:
    """Readiness: the store and the chain both answer (503 with Retry-After if not)."""
    state.check_store()
    block = state.gate.probe()
    return Ready(chain="busy" if block is None else "ok", block_number=block)
