"""``GET /v1/proofs/{leaf_hash}``: the proof bundle of one anchored leaf."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.auth import Reader, StateDep
from api.models import HEX32_PATTERN, BundleOut, problems
from ledger.anchoring.bundles import bundle_for, erased, find_leaf
from ledger.store import Store
from ledger.store.apikeys import KeyInfo, Role

router = APIRouter(prefix="/v1/proofs", tags=["proofs"])
LeafHash = Annotated[str, Path(pattern=HEX32_PATTERN, examples=["0x" + "ab" * 32])]
#: The member of a desensitised record naming the institution that reported it.
INSTITUTION_FIELD = "reporter_org_code"


def may_see_record(key: KeyInfo, record: dict[str, object]) -> bool:
    """Auditors see every record; a partner only those its institution reported."""
    if key.role is Role.AUDITOR:
        return True
    return key.institution is not None and record.get(INSTITUTION_FIELD) == key.institution


@router.get(
    "/{leaf_hash}",
    response_model_exclude_none=True,
    responses=problems(401, 403, 404, 409, 410, 422, 503),
)
def get_proof(leaf_hash: LeafHash, state: StateDep, key: Reader) -> BundleOut:
    """The proof bundle of an anchored leaf (the record only for its own institution)."""
    return BundleOut.model_validate(proof_for(state.store, leaf_hash, key))


def proof_for(store: Store, leaf_hash: str, key: KeyInfo) -> dict[str, Any]:
    """The bundle ``key`` may read (the API's and the console's one rule)."""
    leaf = find_leaf(store, leaf_hash)
    if leaf.canonical is None:
        raise erased(leaf)
    with_record = may_see_record(key, json.loads(leaf.canonical))
    return bundle_for(store, leaf_hash, with_record=with_record).to_json()
