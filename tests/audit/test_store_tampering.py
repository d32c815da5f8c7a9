"""More ways a store can disagree with the chain, one mutation and one expected code each."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, select

from ledger.anchoring.manifest import manifest_hash
from ledger.consent.receipt import commitment, receipt_bytes
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


def _anchor_block(s: Any, p: Populated) -> None:
    _batch(s).block_number += 1


def _anchor_tx(s: Any, p: Populated) -> None:
    _batch(s).tx_hash = "0x" + "71" * 32


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
    """A consent of its own (its receipt names it), stored as recorded but never sent."""
    row = s.get_one(Consent, p.valid_consent)
    columns = {c.key: getattr(row, c.key) for c in Consent.__mapper__.columns}
    new_id = "0x" + "42" * 32
    receipt = receipt_bytes(json.loads(row.receipt) | {"consent_id": new_id})
    s.add(
        Consent(
            **columns
            | {"consent_id": new_id, "receipt": receipt, "commitment": commitment(receipt)}
        )
    )


def _receipt_under_another_id(s: Any, p: Populated) -> None:
    """A's receipt copied under a new id the chain does not know: the copy says so."""
    row = s.get_one(Consent, p.valid_consent)
    columns = {c.key: getattr(row, c.key) for c in Consent.__mapper__.columns}
    s.add(Consent(**columns | {"consent_id": "0x" + "42" * 32}))


def _receipt_of_another_subject(s: Any, p: Populated) -> None:
    s.get_one(Consent, p.valid_consent).subject_pseudonym = "0x" + "66" * 32


def _receipt_window(s: Any, p: Populated) -> None:
    """Row and chain agree; the receipt the borrower signed says otherwise."""
    row = s.get_one(Consent, p.valid_consent)
    receipt = json.loads(row.receipt) | {"valid_until": "2026-06-01T00:00:00Z"}
    row.receipt = receipt_bytes(receipt)
    row.commitment = commitment(row.receipt)  # and the chain's stays: a receipt mismatch too


def _supersedes_column(s: Any, p: Populated) -> None:
    s.get_one(Consent, p.valid_consent).supersedes = p.revoked_consent


def _record_filed_under_another_id(s: Any, p: Populated) -> None:
    set_record_id(s, _batch(s).batch_id, 2, "RPT-NOT-THIS-ONE")


def _inquiry_filed_under_another_id(s: Any, p: Populated) -> None:
    set_record_id(s, _batch(s, kind=2).batch_id, 0, "0x" + "77" * 32)


def _manifest_of_another_batch(s: Any, p: Populated) -> None:
    """Batch 2 holds batch 1's manifest (and its hash): hashes right, names batch 1."""
    first, second = s.scalars(select(Batch).where(Batch.kind == 1).order_by(Batch.seq)).all()[:2]
    second.manifest, second.manifest_hash = first.manifest, first.manifest_hash


def _inquiry_row_renamed(s: Any, p: Populated) -> None:
    """The sealed granted row gets a new id; its leaf still logs the old one."""
    inquiry_row(s, p.granted_inquiry).inquiry_id = "0x" + "57" * 32


def _inquiry_for_another_subject(s: Any, p: Populated) -> None:
    row = inquiry_row(s, p.granted_inquiry)
    columns = {c.key: getattr(row, c.key) for c in Inquiry.__mapper__.columns if c.key != "seq"}
    forged = {"inquiry_id": "0x" + "45" * 32, "subject_pseudonym": "0x" + "66" * 32}
    s.add(Inquiry(**columns | forged | {"batch_id": None, "leaf_index": None}))


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
    "anchor block": (_anchor_block, {"STORE_ANCHOR_MISMATCH"}),
    "anchor transaction": (_anchor_tx, {"STORE_ANCHOR_MISMATCH"}),
    "extra leaf": (_extra_leaf, {"LEAF_EXTRA"}),
    "swapped leaves": (_swapped_leaves, {"LEAF_TREE_MISMATCH"}),
    # leaf 1 filed under leaf 0's record id: its record names another
    "duplicate record": (
        _duplicate_record_id,
        {"RECORD_DUPLICATE_IN_STORE", "LEAF_RECORD_ID_MISMATCH"},
    ),
    "record filed under another id": (_record_filed_under_another_id, {"LEAF_RECORD_ID_MISMATCH"}),
    "inquiry filed under another id": (
        _inquiry_filed_under_another_id,
        {"LEAF_RECORD_ID_MISMATCH"},
    ),
    "manifest of another batch": (
        _manifest_of_another_batch,
        {"STORE_MANIFEST_MISMATCH", "STORE_MANIFEST_ID_MISMATCH", "STORE_MANIFEST_TREE_MISMATCH"},
    ),
    "consent not on chain": (_consent_not_on_chain, {"CONSENT_NOT_ON_CHAIN"}),
    "receipt under another id": (
        _receipt_under_another_id,
        {"CONSENT_NOT_ON_CHAIN", "CONSENT_RECEIPT_ID_MISMATCH", "CONSENT_RECEIPT_DUPLICATE"},
    ),
    "receipt of another subject": (
        _receipt_of_another_subject,
        {"CONSENT_RECEIPT_SUBJECT_MISMATCH"},
    ),
    "supersedes column": (_supersedes_column, {"CONSENT_SUPERSEDES_MISMATCH"}),
    "receipt window": (
        _receipt_window,
        {"CONSENT_COMMITMENT_MISMATCH", "CONSENT_WINDOW_MISMATCH"},
    ),
    "consent row deleted": (_consent_row_deleted, {"CONSENT_NOT_IN_STORE"}),
    "commitment": (_commitment, {"CONSENT_RECEIPT_MISMATCH", "CONSENT_COMMITMENT_MISMATCH"}),
    "window": (_window, {"CONSENT_WINDOW_MISMATCH"}),
    "revocation": (_revocation_not_on_chain, {"CONSENT_REVOCATION_NOT_ON_CHAIN"}),
    "not covered": (_not_covered, {"INQUIRY_NOT_COVERED"}),
    "inquiry deleted": (_inquiry_row_deleted, {"INQUIRY_MISSING"}),
    "inquiry row renamed": (_inquiry_row_renamed, {"INQUIRY_ID_MISMATCH", "INQUIRY_MISSING"}),
    "inquiry for another subject": (_inquiry_for_another_subject, {"INQUIRY_NOT_COVERED"}),
}


@pytest.mark.parametrize("case", CASES)
def test_each_disagreement_has_its_code(ledger_dir: Populated, case: str) -> None:
    mutation, expected = CASES[case]
    edit_store(ledger_dir, lambda s: mutation(s, ledger_dir))
    report = run_audit(ledger_dir)
    assert codes(report) == expected, report.to_json()["findings"]


def test_an_anchor_time_the_chain_does_not_hold_is_a_finding(ledger_dir: Populated) -> None:
    """The platform moves a batch's anchor time (its bundles and the alert window state it):
    the audit reads the block's own time from the chain and says both."""
    moved: list[tuple[str, str]] = []

    def later(s: Any, p: Populated) -> None:
        batch = _batch(s, kind=2)
        moved.append((batch.batch_id, batch.block_timestamp))
        batch.block_timestamp = "2030-01-01T00:00:00Z"

    edit_store(ledger_dir, lambda s: later(s, ledger_dir))
    report = run_audit(ledger_dir)
    assert codes(report) == {"STORE_ANCHOR_MISMATCH"}
    ((batch_id, was),) = moved
    (finding,) = [f.to_json() for f in report.failing]
    assert finding["batch_id"] == batch_id
    assert (finding["expected"], finding["found"]) == (
        f"block_timestamp {was}",
        "block_timestamp 2030-01-01T00:00:00Z",
    )
