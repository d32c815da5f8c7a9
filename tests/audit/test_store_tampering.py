"""More ways a store can disagree with the chain, one mutation and one expected code each."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, select

from ledger.anchoring.manifest import manifest_hash
from ledger.store import Batch, Consent, Inquiry, leaves
from tests._leaves import add_extra_leaf, set_record_id, swap_leaves
from tests.audit.conftest import Populated, codes, edit_store, inquiry_row, run_audit

Mutation = Callable[[Any, Populated], None]


def _batch(s: Any, kind: int = 1) -> Batch:
    return s.scalars(select(Batch).where(Batch.kind == kind).order_by(Batch.seq)).first()


def _size(s: Any, p: Populated) -> None:
    _batch(s).tree_size += 1


def _kind(s: Any, p: Populated) -> None:
    _batch(s).kind = 3


def _manifest(s: Any, p: Populated) -> None:
    batch = _batch(s)
    manifest = json.loads(batch.manifest) | {"policy": "something-else"}
    batch.manifest = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    batch.manifest_hash = "0x" + manifest_hash(manifest).hex()  # consistent, but not anchored


def _pending(s: Any, p: Populated) -> None:
    _batch(s).status = "pending"


def _extra_leaf(s: Any, p: Populated) -> None:
    batch = _batch(s)
    assert add_extra_leaf(s, batch.batch_id, b"\x07" * 32) == batch.tree_size


def _swapped_leaves(s: Any, p: Populated) -> None:
    """Two records trade places: each hashes right, the tree does not."""
    swap_leaves(s, _batch(s).batch_id, 0, 1)


def _duplicate_record_id(s: Any, p: Populated) -> None:
    batch_id = _batch(s).batch_id
    first = leaves.leaf_at(s, batch_id, 0)
    assert first is not None and first.record_id is not None
    set_record_id(s, batch_id, 1, first.record_id)


def _consent_not_on_chain(s: Any, p: Populated) -> None:
    row = s.get_one(Consent, p.valid_consent)
    columns = {c.key: getattr(row, c.key) for c in Consent.__mapper__.columns}
    s.add(Consent(**columns | {"consent_id": "0x" + "42" * 32}))


def _consent_row_deleted(s: Any, p: Populated) -> None:
    s.execute(delete(Consent).where(Consent.consent_id == p.valid_consent))


def _commitment(s: Any, p: Populated) -> None:
    s.get_one(Consent, p.valid_consent).commitment = "0x" + "43" * 32


def _window(s: Any, p: Populated) -> None:
    s.get_one(Consent, p.valid_consent).valid_until += 86400


def _revocation_not_on_chain(s: Any, p: Populated) -> None:
    row = s.get_one(Consent, p.valid_consent)
    row.revoked_at, row.revoke_status = row.valid_from + 100, "recorded"


def _not_covered(s: Any, p: Populated) -> None:
    row = inquiry_row(s, p.granted_inquiry)
    columns = {c.key: getattr(row, c.key) for c in Inquiry.__mapper__.columns if c.key != "seq"}
    forged = {"inquiry_id": "0x" + "44" * 32, "institution": "BANK-Q", "batch_id": None}
    s.add(Inquiry(**columns | forged | {"leaf_index": None}))


def _inquiry_row_deleted(s: Any, p: Populated) -> None:
    s.execute(delete(Inquiry).where(Inquiry.inquiry_id == p.refused_inquiry))


CASES: dict[str, tuple[Mutation, set[str]]] = {
    "size": (_size, {"STORE_SIZE_MISMATCH"}),
    "kind": (_kind, {"STORE_KIND_MISMATCH"}),
    "manifest": (_manifest, {"STORE_MANIFEST_MISMATCH"}),
    "pending": (_pending, {"STORE_BATCH_PENDING"}),
    "extra leaf": (_extra_leaf, {"LEAF_EXTRA"}),
    "swapped leaves": (_swapped_leaves, {"LEAF_TREE_MISMATCH"}),
    "duplicate record": (_duplicate_record_id, {"RECORD_DUPLICATE_IN_STORE"}),
    "consent not on chain": (_consent_not_on_chain, {"CONSENT_NOT_ON_CHAIN"}),
    "consent row deleted": (_consent_row_deleted, {"CONSENT_NOT_IN_STORE"}),
    "commitment": (_commitment, {"CONSENT_RECEIPT_MISMATCH", "CONSENT_COMMITMENT_MISMATCH"}),
    "window": (_window, {"CONSENT_WINDOW_MISMATCH"}),
    "revocation": (_revocation_not_on_chain, {"CONSENT_REVOCATION_NOT_ON_CHAIN"}),
    "not covered": (_not_covered, {"INQUIRY_NOT_COVERED"}),
    "inquiry deleted": (_inquiry_row_deleted, {"INQUIRY_MISSING"}),
}


@pytest.mark.parametrize("case", CASES)
def test_each_disagreement_has_its_code(ledger_dir: Populated, case: str) -> None:
    mutation, expected = CASES[case]
    edit_store(ledger_dir, lambda s: mutation(s, ledger_dir))
    report = run_audit(ledger_dir)
    assert codes(report) == expected, report.to_json()["findings"]
