"""Risk alerts for banks that pull: list, stream, show, acknowledge.

Who reads what:

- a partner key reads its own institution's alerts only; another bank's alert is
  answered exactly as an alert that does not exist (404), and naming another
  ``institution`` is refused (403);
- operator and auditor keys read every bank's alerts, or one bank's with
  ``institution=``; only the bank itself acknowledges (``POST .../ack``: partner).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api.alert_models import ALERT_ID_PATTERN, AckBody, AckResult, AlertDetail, AlertPage
from api.alertstream import alert_events
from api.auth import AnyRole, StateDep, require, state_of
from api.errors import PermissionDeniedError
from api.models import problems
from api.responses import FastJSON
from ledger.alerts.outbox import MAX_PAGE, StoredAlert, acknowledge, alerts_after, every_alert_after
from ledger.alerts.views import AlertView, any_alert, bank_alert, bank_page, every_bank_page
from ledger.store import Store
from ledger.store.apikeys import KeyInfo, Role

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
PROBLEM_REF = "#/components/schemas/Problem"  # every other route's problems() puts it there
Partner = Annotated[KeyInfo, Depends(require(Role.PARTNER))]
#: Cursors are alert sequence numbers, 64-bit signed integers in the store.
MAX_CURSOR = 2**63 - 1
INSTITUTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
AlertId = Annotated[str, Path(pattern=ALERT_ID_PATTERN, examples=["msg_" + "2f" * 16])]
After = Annotated[
    int, Query(ge=0, le=MAX_CURSOR, description="cursor: `next` of the previous page (0: start)")
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
InstitutionQuery = Annotated[
    str | None,
    Query(
        pattern=INSTITUTION_PATTERN,
        description="operator, auditor: one bank's alerts (default: every bank's); "
        "a partner reads its own only",
    ),
]


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose alerts a request reads: one bank's (``bank``), or every bank's (None)."""

    bank: str | None


async def alert_scope(key: AnyRole, institution: InstitutionQuery = None) -> Scope:
    """A partner's own institution, whatever it asks; the named bank (or all) for others."""
    if key.role is Role.PARTNER:
        assert key.institution is not None  # a partner key is always bound to one
        if institution not in (None, key.institution):
            raise PermissionDeniedError("a partner key reads its own institution's alerts only")
        return Scope(key.institution)
    return Scope(institution)


ScopeDep = Annotated[Scope, Depends(alert_scope)]


async def stream_slot(request: Request, _key: AnyRole) -> AsyncIterator[None]:
    """One of the process's alert stream slots, for as long as the stream is open (taken
    after the key is checked: a request without one gets its 401, not a 503)."""
    slots = state_of(request).alert_streams
    slots.take()
    try:
        yield
    finally:
        slots.give_back()


def _alert_json(view: AlertView) -> dict[str, Any]:
    return {**view.to_json(), "body": orjson.Fragment(view.alert.body)}


def _read(store: Store, scope: Scope, cursor: int, limit: int) -> list[StoredAlert]:
    with store.session() as s:
        if scope.bank is None:
            return every_alert_after(s, cursor, limit)
        return alerts_after(s, scope.bank, cursor, limit)


@router.get("", response_model=AlertPage, responses=problems(401, 403, 422, 503))
def list_alerts(state: StateDep, scope: ScopeDep, after: After = 0, limit: Limit = 100) -> FastJSON:
    """Alerts oldest first after the cursor, with their delivery and acknowledgement."""
    with state.store.session() as s:
        if scope.bank is None:
            views = every_bank_page(s, after, limit)
        else:
            views = bank_page(s, scope.bank, after, limit)
    page = {
        "alerts": [_alert_json(v) for v in views],
        "next": views[-1].alert.seq if views else after,
        "more": len(views) == limit,
    }
    return FastJSON(page)


def stream_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """:func:`~api.models.problems` for a stream: the schema goes under problem+json, not
    under the route's own media type (``text/event-stream``)."""
    return {
        status: {
            "description": doc["description"],
            "content": {"application/problem+json": {"schema": {"$ref": PROBLEM_REF}}},
        }
        for status, doc in problems(*statuses).items()
    }


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses=stream_problems(401, 403, 422, 503),
    dependencies=[Depends(stream_slot)],
)
async def stream_alerts(
    request: Request,
    scope: ScopeDep,
    after: After = 0,
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=MAX_CURSOR,
            description="the last `id:` received: resume after it (wins over `after`)",
        ),
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: `id:` seq, `event:` type, `data:` the webhook body; then new
    alerts as they come. Heartbeat comments keep it open; it ends after a while (reconnect
    with `Last-Event-ID`)."""
    state = state_of(request)
    cursor = after if last_event_id is None else last_event_id
    read = partial(_read, state.store, scope)
    async for event in alert_events(read, cursor, state.limits, request.is_disconnected):
        yield event


@router.get("/{alert_id}", response_model=AlertDetail, responses=problems(401, 404, 422, 503))
def get_alert(alert_id: AlertId, state: StateDep, key: AnyRole) -> FastJSON:
    """One alert, its delivery attempts and acknowledgement (404 for another bank's)."""
    with state.store.session() as s:
        if key.role is Role.PARTNER:
            assert key.institution is not None
            detail = bank_alert(s, key.institution, alert_id)
        else:
            detail = any_alert(s, alert_id)
    return FastJSON({**detail.to_json(), "body": orjson.Fragment(detail.view.alert.body)})


@router.post(
    "/{alert_id}/ack", response_model=AckResult, responses=problems(401, 403, 404, 413, 422, 503)
)
def ack_alert(
    alert_id: AlertId,
    state: StateDep,
    key: Partner,
    body: Annotated[AckBody | None, Body()] = None,
) -> AckResult:
    """Record the bank's acknowledgement; again, it answers the first one (idempotent)."""
    assert key.institution is not None
    by = body.by if body is not None and body.by is not None else key.name
    note = None if body is None else body.note
    with state.store.session() as s, s.begin():
        info = acknowledge(s, key.institution, alert_id, by=by, note=note)
    return AckResult(
        alert_id=info.alert_id,
        acknowledged_at=info.acknowledged_at,
        acknowledged_by=info.acknowledged_by,
        note=info.note,
        first=info.first,
    )
