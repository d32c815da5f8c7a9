"""Each client call against the real app, store and embedded chain."""

from __future__ import annotations

import dataclasses
import os

import pytest

from ledger.chain import Chain
from ledger.client import BatchInfo, CreditAnchorClient, SubmissionReport, check_on_chain
from ledger.proofs import ProofBundle, record_leaf_hash
from tests.client.conftest import ROWS, Server


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def test_health_and_ready(server: Server) -> None:
    client = CreditAnchorClient("http://testserver", "unused", http=server.http)
    assert client.health() is True
    assert client.ready() is True


def test_submit_reports_anchored_batches(server: Server, submitted: SubmissionReport) -> None:
    assert submitted.accepted == ROWS and submitted.rejected == 0
    assert sum(b.tree_size for b in submitted.batches) == ROWS
    assert all(b.tx_hash.startswith("0x") for b in submitted.batches)
    with server.client("operator") as client:
        again = client.submit(server.rows)
    assert again.already_complete is True
    assert again.submission_id == submitted.submission_id


def test_submit_reports_rejections(server: Server) -> None:
    bad = {**server.rows[0], "report_id": "RPT-BAD-1", "subject_id_number": "110101199001010000"}
    with server.client("operator") as client:
        report = client.submit([bad])
    assert report.accepted == 0 and report.rejected == 1
    (rejection,) = report.rejections
    assert rejection.row == 1 and rejection.field
    assert "110101199001010000" not in repr(report)


def test_batch(server: Server, submitted: SubmissionReport) -> None:
    first = submitted.batches[0]
    with server.client("partner") as client:
        info = client.batch(first.batch_id)
    assert isinstance(info, BatchInfo)
    assert info.status == "anchored" and info.root == first.root
    assert info.tree_size == first.tree_size and info.kind == 1
    assert info.anchor is not None and info.anchor.tx_hash == first.tx_hash
    assert info.anchor.block_number == first.block_number
    assert info.created_at.tzinfo is not None


def test_proof_is_verified_and_carries_own_record(
    server: Server, submitted: SubmissionReport
) -> None:
    record = server.stored_records()[0]
    leaf = hx(record_leaf_hash(record))
    with server.client("auditor") as client:
        bundle = client.proof(leaf)
    assert isinstance(bundle, ProofBundle)
    assert hx(bundle.leaf_hash) == leaf and bundle.record == record
    assert hx(bundle.root) in {b.root for b in submitted.batches}


def test_verify_records(server: Server, submitted: SubmissionReport) -> None:
    records = server.stored_records()
    changed = {**records[0], "salt": hx(os.urandom(32))}
    unknown = {"record_id": "NEVER-SEEN", "salt": "0x00"}
    with server.client("partner") as client:
        results = client.verify_records([*records, changed, unknown])
    assert [r.status for r in results] == ["anchored"] * ROWS + ["mismatch", "unknown"]
    for result, record in zip(results, records, strict=False):
        assert result.bundle is not None and result.bundle.record == record
        assert result.leaf_hash == hx(record_leaf_hash(record))
        assert result.batch_id in {b.batch_id for b in submitted.batches}
    assert results[ROWS].bundle is None and results[ROWS].batch_id is not None
    assert results[ROWS + 1].batch_id is None


def test_verify_leaf_hashes(server: Server, submitted: SubmissionReport) -> None:
    hashes = [hx(record_leaf_hash(r)) for r in server.stored_records()[:2]]
    with server.client("auditor") as client:
        results = client.verify_leaf_hashes([*hashes, "0x" + "42" * 32])
        assert client.verify_leaf_hashes([]) == []
    assert [r.status for r in results] == ["anchored", "anchored", "unknown"]
    assert [r.leaf_hash for r in results[:2]] == hashes
    assert results[0].bundle is not None and results[0].bundle.record is None


def test_check_on_chain(server: Server, submitted: SubmissionReport) -> None:
    leaf = hx(record_leaf_hash(server.stored_records()[0]))
    with server.client("auditor") as client:
        bundle = client.proof(leaf)
    state = server.http.app.state.ledger  # type: ignore[attr-defined]
    with state.gate.hold() as ledger:
        chain: Chain = ledger.chain
        anchored = check_on_chain(bundle, chain)
        assert anchored.root == bundle.root and anchored.tree_size == bundle.tree_size
        from ledger.chain.attest import AnchorMismatchError
        from ledger.proofs import AnchorAttestation

        moved = AnchorAttestation(
            chain_id=bundle.anchor.chain_id,
            registry=bundle.anchor.registry,
            tx_hash=bundle.anchor.tx_hash,
            block_number=bundle.anchor.block_number + 1,
            block_timestamp=bundle.anchor.block_timestamp,
        )
        forged = dataclasses.replace(bundle, anchor=moved)
        with pytest.raises(AnchorMismatchError):
            client.check_on_chain(forged, chain)
