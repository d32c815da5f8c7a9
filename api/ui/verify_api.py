"""The verify page's two JSON calls (``/ui/api``), signed in with the console cookie.

The page checks a bundle's math in the browser; it needs the server only for what
the browser cannot do alone:

- ``POST /ui/api/anchor``: is this batch anchored with this root? The server asks
  the registry *it* is deployed with (one ``eth_call`` per distinct batch, through
  :func:`ledger.chain.attest.batch_problem`, the rule ``ledger verify`` uses); a
  bundle naming another chain or registry is answered "no" without a call, so no
  address a user supplied is ever called. Only anchors are sent: no record.
- ``POST /ui/api/verify``: the server-side check the user asks for with a button,
  the records sent to the very function ``POST /v1/verify`` runs.

Both need a same-origin post (``session.same_origin``); ``BodyLimits`` already
refused any body without a live console cookie.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from api.auth import state_of
from api.errors import AuthenticationError, PermissionDeniedError
from api.models import Hex32, VerifyRequest
from api.responses import FastJSON
from api.routers.verify import answer_for
from api.ui import session
from ledger.chain.attest import batch_problem
from ledger.chain.registry import AnchorRegistryClient
from ledger.chain.types import AnchorRecord
from ledger.store.apikeys import KeyInfo, Role
from ledger.wiring import Ledger

router = APIRouter(prefix=session.PATH + "/api", include_in_schema=False)

#: Distinct anchors one request may ask about: an export's batches, with room to spare.
MAX_ANCHORS: Final = 256
Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
Timestamp = Annotated[
    str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
]
UINT64_MAX: Final = 2**64 - 1


class AnchorClaim(BaseModel):
    """What a bundle says about its anchor, and nothing of its record."""

    model_config = ConfigDict(extra="forbid")
    chain_id: int = Field(ge=1, le=UINT64_MAX)
    registry: Address
    batch_id: Hex32
    root: Hex32
    tree_size: int = Field(ge=1, le=UINT64_MAX)
    block_number: int = Field(ge=0, le=UINT64_MAX)
    block_timestamp: Timestamp


class AnchorQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anchors: list[AnchorClaim] = Field(min_length=1, max_length=MAX_ANCHORS)


def _console_key(*roles: Role) -> Any:
    """A dependency: the console key of a same-origin post, of one of ``roles`` (any when
    none). Dependencies run before the body is validated: a cross-site or wrong-role
    post is refused as such, not for its body."""

    async def key_of_post(request: Request) -> KeyInfo:
        if not session.same_origin(request):
            raise PermissionDeniedError("the request did not come from this console")
        key = await session.console_key(request)
        if key is None:
            raise AuthenticationError("sign in to the console first")
        if roles and key.role not in roles:
            raise PermissionDeniedError(f"a {key.role} key may not do this")
        return key

    return Depends(key_of_post)


AnyKey = Annotated[KeyInfo, _console_key()]
ReaderKey = Annotated[KeyInfo, _console_key(Role.PARTNER, Role.AUDITOR)]


@router.post("/anchor")
async def anchor(_key: AnyKey, body: AnchorQuery, request: Request) -> FastJSON:
    """Per claim, in order: ``ok`` and a ``problem``, and the root the registry holds for
    the batch (``registry_root``, when it holds one), with the chain and registry asked."""
    gate = state_of(request).gate

    def ask() -> dict[str, Any]:
        with gate.hold() as ledger:
            return _answer(ledger, body.anchors)

    return FastJSON(await run_in_threadpool(ask))


def _answer(ledger: Ledger, claims: list[AnchorClaim]) -> dict[str, Any]:
    chain_id = ledger.chain.chain_id
    own = {ledger.registry.address, ledger.deployment.alert_log_registry.lower()}
    clients = {address: AnchorRegistryClient(ledger.chain, address) for address in own}
    read: dict[tuple[str, str], AnchorRecord | None] = {}  # one eth_call per batch
    results: list[dict[str, Any]] = []
    for claim in claims:
        registry = claim.registry.lower()
        if claim.chain_id != chain_id or registry not in own:
            refused = (
                f"this server anchors on chain {chain_id} registry {ledger.registry.address}; "
                f"the bundle names chain {claim.chain_id} registry {registry}"
            )
            results.append({"ok": False, "problem": refused, "registry_root": None})
            continue
        try:
            when = datetime.strptime(claim.block_timestamp, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:  # the pattern passed, the calendar did not (month 13, ...)
            refused = f"block_timestamp {claim.block_timestamp} is not a real date and time"
            results.append({"ok": False, "problem": refused, "registry_root": None})
            continue
        batch_id = bytes.fromhex(claim.batch_id[2:])
        if (registry, claim.batch_id) not in read:
            read[registry, claim.batch_id] = clients[registry].anchor_by_batch(batch_id)
        record = read[registry, claim.batch_id]
        problem = batch_problem(
            registry,
            record,
            batch_id,
            bytes.fromhex(claim.root[2:]),
            claim.tree_size,
            claim.block_number,
            int(when.replace(tzinfo=UTC).timestamp()),
        )
        results.append(
            {
                "ok": problem is None,
                "problem": problem,
                "registry_root": None if record is None else "0x" + record.root.hex(),
            }
        )
    return {"chain_id": chain_id, "registry": ledger.registry.address, "results": results}


@router.post("/verify")
async def verify(_key: ReaderKey, body: VerifyRequest, request: Request) -> FastJSON:
    """The server's own answer for the records (``POST /v1/verify``'s function), per item
    its status, leaf hash and batch; the bundles stay out (the page has them)."""
    store = state_of(request).store
    answer = await run_in_threadpool(answer_for, store, body)
    request.app.state.metrics.count_outcomes(answer["counts"])
    results = [{k: v for k, v in item.items() if k != "bundle"} for item in answer["results"]]
    return FastJSON({"counts": answer["counts"], "results": results})
