"""Liveness and readiness probes (no auth)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.auth import StateDep
from api.models import Health, Ready, problems
from ledger import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    """Liveness: the process answers, with its release."""
    return Health(version=__version__)


@router.get("/readyz", responses=problems(503))
def readyz(state: StateDep) -> Ready:
    """Readiness: the store and the chain both answer (503 with Retry-After if not)."""
    state.check_store()
    block = state.gate.probe()
    return Ready(
        chain="busy" if block is None else "ok",
        block_number=block,
        anchor_sender=state.election.elected,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {
                CONTENT_TYPE_LATEST: {"example": 'creditanchor_batches{status="anchored"} 3.0\n'}
            }
        }
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests, latency, verify outcomes, anchors, batches by status."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
