"""``audit`` on the embedded chain: a clean ledger is clean; each tampering has its own code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ledger.anchoring.bundles import attestation, batch_view
from ledger.anchoring.manifest import manifest_hash
from ledger.audit import AuditReport, export_records
from ledger.consent.erasure import erase_subject
from ledger.proofs import canonical_bytes
from ledger.store import Batch, Consent, Inquiry, Store
from tests._leaves import all_leaves, drop_batch_leaves, drop_leaf, get_canonical, set_canonical
from tests.audit.conftest import (
    Populated,
    codes,
    consent_row,
    edit_store,
    export_to,
    inquiry_row,
    run_audit,
)

CREDIT = 1


def _first_batch(s: Any, kind: int = CREDIT) -> Batch:
    return s.scalars(select(Batch).where(Batch.kind == kind).order_by(Batch.seq)).first()


def _only(report: AuditReport, code: str) -> list[dict[str, Any]]:
    """The failing findings, all of ``code``; returned as JSON."""
    assert codes(report) == {code}, report.to_json()["findings"]
    return [f.to_json() for f in report.failing]


def test_clean_ledger_audits_clean(ledger_dir: Populated, tmp_path: Path) -> None:
    export = export_to(ledger_dir, tmp_path / "export.jsonl")
    report = run_audit(ledger_dir, records=export)
    assert report.clean, report.to_json()["findings"]
    assert report.findings == []
    # three credit-data batches and one inquiry batch; every leaf exported and checked
    assert report.checked["anchors"] == 4
    assert report.checked["store_leaves"] == report.checked["records"] == 25 + 2
    assert report.checked["store_consents"] == report.checked["chain_consents"] == 2
    assert report.chain["anchor_count"] == 4


def test_changed_byte_in_a_stored_record(ledger_dir: Populated) -> None:
    def flip(s: Any) -> None:
        batch_id = _first_batch(s).batch_id
        data = bytearray(get_canonical(s, batch_id, 3) or b"")
        data[data.index(b'"salt":"0x') + 12] ^= 0x01  # a hex digit of the salt: still JSON
        set_canonical(s, batch_id, 3, bytes(data))

    edit_store(ledger_dir, flip)
    (finding,) = _only(run_audit(ledger_dir), "LEAF_RECORD_MISMATCH")
    assert finding["leaf_index"] == 3
    assert finding["expected"] != finding["found"]


def test_changed_byte_in_an_exported_record(ledger_dir: Populated, tmp_path: Path) -> None:
    export = export_to(ledger_dir, tmp_path / "export.jsonl")
    lines = export.read_text(encoding="utf-8").splitlines()
    bundle = json.loads(lines[4])
    bundle["record"]["salt"] = bundle["record"]["salt"][:-1] + (
        "0" if bundle["record"]["salt"][-1] != "0" else "1"
    )
    lines[4] = json.dumps(bundle)
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (finding,) = _only(run_audit(ledger_dir, records=export), "RECORD_HASH_MISMATCH")
    assert finding["line"] == 5


def test_record_exported_twice(ledger_dir: Populated, tmp_path: Path) -> None:
    export = export_to(ledger_dir, tmp_path / "export.jsonl")
    lines = export.read_text(encoding="utf-8").splitlines()
    export.write_text("\n".join([*lines, lines[2]]) + "\n", encoding="utf-8")
    (finding,) = _only(run_audit(ledger_dir, records=export), "RECORD_DUPLICATE")
    assert (finding["expected"], finding["found"]) == (3, len(lines) + 1)


def test_deleted_leaf_row(ledger_dir: Populated) -> None:
    def drop(s: Any) -> None:
        drop_leaf(s, _first_batch(s).batch_id, 6)

    edit_store(ledger_dir, drop)
    (finding,) = _only(run_audit(ledger_dir), "LEAF_MISSING")
    assert finding["leaf_index"] == 6


def test_deleted_batch_rows(ledger_dir: Populated) -> None:
    dropped: list[str] = []

    def drop(s: Any) -> None:
        batch = _first_batch(s)
        dropped.append(batch.batch_id)
        drop_batch_leaves(s, batch.batch_id)
        s.delete(batch)

    edit_store(ledger_dir, drop)
    (finding,) = _only(run_audit(ledger_dir), "CHAIN_ANCHOR_NOT_IN_STORE")
    assert finding["batch_id"] == dropped[0]


def test_store_batch_not_on_chain(ledger_dir: Populated) -> None:
    def forge(s: Any) -> None:
        real = _first_batch(s)
        manifest = json.loads(real.manifest) | {
            "batch_id": "0x" + "ab" * 32,
            "tree_size": 1,
            "root": "0x" + "cd" * 32,
        }
        s.add(
            Batch(
                batch_id="0x" + "ab" * 32,
                kind=CREDIT,
                tree_size=1,
                root="0x" + "cd" * 32,
                manifest=canonical_bytes(manifest).decode(),
                manifest_hash="0x" + manifest_hash(manifest).hex(),
                status="anchored",
                created_at=real.created_at,
            )
        )

    edit_store(ledger_dir, forge)
    (finding,) = _only(run_audit(ledger_dir), "STORE_BATCH_NOT_ON_CHAIN")
    assert finding["batch_id"] == "0x" + "ab" * 32


def test_changed_root_in_store(ledger_dir: Populated) -> None:
    roots: list[str] = []

    def change(s: Any) -> None:
        batch = _first_batch(s)
        roots.append(batch.root)
        batch.root = "0x" + "ee" * 32

    edit_store(ledger_dir, change)
    (finding,) = _only(run_audit(ledger_dir), "STORE_ROOT_MISMATCH")
    assert (finding["expected"], finding["found"]) == (roots[0], "0x" + "ee" * 32)


def test_consent_revoked_on_chain_but_valid_in_store(ledger_dir: Populated) -> None:
    def unrevoke(s: Any) -> None:
        row = consent_row(s, ledger_dir.revoked_consent)
        row.revoked_at = row.revoke_status = row.revoke_tx_hash = row.revoke_block_number = None

    edit_store(ledger_dir, unrevoke)
    (finding,) = _only(run_audit(ledger_dir), "CONSENT_REVOKED_ON_CHAIN_ONLY")
    assert finding["consent_id"] == ledger_dir.revoked_consent
    assert finding["found"] == 0


def test_changed_consent_receipt(ledger_dir: Populated) -> None:
    def change(s: Any) -> None:
        row = consent_row(s, ledger_dir.valid_consent)
        row.receipt = row.receipt.replace(b'"BANK-A"', b'"BANK-X"')

    edit_store(ledger_dir, change)
    (finding,) = _only(run_audit(ledger_dir), "CONSENT_RECEIPT_MISMATCH")
    assert finding["consent_id"] == ledger_dir.valid_consent


def test_inquiry_without_consent(ledger_dir: Populated) -> None:
    def forge(s: Any) -> None:
        model = inquiry_row(s, ledger_dir.granted_inquiry)
        s.add(
            Inquiry(
                inquiry_id="0x" + "99" * 32,
                institution=model.institution,
                requested_by="forged",
                subject_pseudonym=model.subject_pseudonym,
                purpose=model.purpose,
                consent_id=None,
                result="granted",
                reason="valid",
                checked_at=model.checked_at,
                logged_at=model.logged_at,
            )
        )

    edit_store(ledger_dir, forge)
    (finding,) = _only(run_audit(ledger_dir), "INQUIRY_WITHOUT_CONSENT")
    assert finding["inquiry_id"] == "0x" + "99" * 32


def test_inquiry_after_the_consent_was_withdrawn(ledger_dir: Populated) -> None:
    def forge(s: Any) -> None:
        model = inquiry_row(s, ledger_dir.granted_inquiry)
        s.add(
            Inquiry(
                inquiry_id="0x" + "98" * 32,
                institution=model.institution,
                requested_by="forged",
                subject_pseudonym=model.subject_pseudonym,
                purpose=model.purpose,
                consent_id=ledger_dir.revoked_consent,
                result="granted",
                reason="valid",
                checked_at="2026-03-01T00:00:00Z",  # withdrawn from 2026-01-11
                logged_at=model.logged_at,
            )
        )

    edit_store(ledger_dir, forge)
    (finding,) = _only(run_audit(ledger_dir), "INQUIRY_CONSENT_NOT_VALID")
    assert finding["consent_id"] == ledger_dir.revoked_consent


def test_sealed_refusal_rewritten_as_granted(ledger_dir: Populated) -> None:
    def rewrite(s: Any) -> None:
        row = inquiry_row(s, ledger_dir.refused_inquiry)
        row.result, row.reason = "granted", "valid"

    edit_store(ledger_dir, rewrite)
    (finding,) = _only(run_audit(ledger_dir), "INQUIRY_LEAF_MISMATCH")
    assert finding["inquiry_id"] == ledger_dir.refused_inquiry
    assert "result" in finding["found"]


def test_erased_subject_is_reported_as_erased_not_tampered(
    ledger_dir: Populated, tmp_path: Path
) -> None:
    store = Store.open(ledger_dir.data_dir, ledger_dir.db_url)
    try:
        with store.session() as s:
            pseudonym = s.scalar(
                select(Inquiry.subject_pseudonym).where(
                    Inquiry.inquiry_id == ledger_dir.granted_inquiry
                )
            )
        assert pseudonym
        erase_subject(store, pseudonym, requested_by="pytest")
    finally:
        store.close()
    export = export_to(ledger_dir, tmp_path / "export.jsonl")
    report = run_audit(ledger_dir, records=export)
    assert report.clean, report.to_json()["findings"]
    found = report.codes()
    assert found["CONSENT_ERASED"] == 2
    assert found["LEAF_ERASED"] >= 3  # the subject's records and both inquiry leaves
    assert set(found) == {"CONSENT_ERASED", "LEAF_ERASED"}


def test_erased_leaf_without_an_erasure_record_is_an_error(ledger_dir: Populated) -> None:
    def wipe(s: Any) -> None:
        set_canonical(s, _first_batch(s).batch_id, 0, None)

    edit_store(ledger_dir, wipe)
    (finding,) = _only(run_audit(ledger_dir), "LEAF_ERASED_UNRECORDED")
    assert finding["leaf_index"] == 0


def test_rebuilt_store_holds_the_chain_state_and_audits_clean(
    ledger_dir: Populated, tmp_path: Path
) -> None:
    export = export_to(ledger_dir, tmp_path / "export.jsonl")
    rebuilt = Store(f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
    try:
        report = run_audit(ledger_dir, records=export, rebuild=rebuilt)
        assert report.clean and report.checked["rebuilt_leaves"] == 27
        with rebuilt.session() as s:
            assert s.scalar(select(func.count()).select_from(Batch)) == 4
            assert len(all_leaves(s)) == 27
            assert s.scalar(select(func.count()).select_from(Inquiry)) == 2
            revoked = s.get_one(Consent, ledger_dir.revoked_consent)
            assert revoked.revoked_at and revoked.receipt is not None
    finally:
        rebuilt.close()
    # The rebuilt store, audited as if it were the platform's, agrees with the chain.
    again = run_audit(ledger_dir, db_url=f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
    assert again.clean, again.to_json()["findings"]
    assert again.checked["store_leaves"] == 27


def test_a_rebuilt_store_attests_every_anchor_as_the_platform_does(
    ledger_dir: Populated, tmp_path: Path
) -> None:
    """Chain, registry, transaction, block and block time: all from the chain, the time from
    each block's header; so its bundles are the platform's, byte for byte."""
    export = export_to(ledger_dir, tmp_path / "export.jsonl")
    rebuilt = Store(f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
    platform = Store.open(ledger_dir.data_dir, ledger_dir.db_url)
    try:
        assert run_audit(ledger_dir, records=export, rebuild=rebuilt).clean
        with platform.session() as s:
            theirs = {b.batch_id: b for b in s.scalars(select(Batch))}
        with rebuilt.session() as s:
            ours = {b.batch_id: b for b in s.scalars(select(Batch))}
        assert ours.keys() == theirs.keys() and len(ours) == 4
        for batch_id, batch in ours.items():
            assert batch.block_timestamp is not None
            assert batch.block_timestamp.endswith("Z")
            assert attestation(batch) == attestation(theirs[batch_id])
            assert (
                batch_view(rebuilt, batch_id)["anchor"] == batch_view(platform, batch_id)["anchor"]
            )
            assert batch.created_at == theirs[batch_id].created_at  # its verified manifest's
        again = tmp_path / "again.jsonl"
        with again.open("w", encoding="utf-8") as out:
            assert export_records(rebuilt, out) == 27
    finally:
        rebuilt.close()
        platform.close()
    assert again.read_text(encoding="utf-8") == export.read_text(encoding="utf-8")


def test_rebuild_takes_only_records_that_pass(ledger_dir: Populated, tmp_path: Path) -> None:
    def change(s: Any) -> None:
        batch = _first_batch(s)
        batch.root = "0x" + "ee" * 32

    export = export_to(ledger_dir, tmp_path / "export.jsonl")
    lines = export.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[0])
    bad["record"]["salt"] = "0x" + "00" * 32
    export.write_text("\n".join([json.dumps(bad), *lines[1:]]) + "\n", encoding="utf-8")
    edit_store(ledger_dir, change)  # the platform's manifest is still right: it is kept
    rebuilt = Store(f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
    try:
        report = run_audit(ledger_dir, records=export, rebuild=rebuilt)
        assert codes(report) == {"RECORD_HASH_MISMATCH", "STORE_ROOT_MISMATCH"}
        with rebuilt.session() as s:
            assert len(all_leaves(s)) == 26
            roots = set(s.scalars(select(Batch.root)))
        assert "0x" + "ee" * 32 not in roots
    finally:
        rebuilt.close()


def _export_lines(ledger: Populated, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    export = export_to(ledger, tmp_path / "export.jsonl")
    return export, [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]


def _write(export: Path, bundles: list[dict[str, Any]]) -> Path:
    export.write_text("".join(json.dumps(b) + "\n" for b in bundles), encoding="utf-8")
    return export


def test_partial_export_with_a_broken_audit_path(ledger_dir: Populated, tmp_path: Path) -> None:
    export, bundles = _export_lines(ledger_dir, tmp_path)
    del bundles[0]  # the batch is incomplete now: every line is proved by its own path
    bundles[1]["audit_path"][0] = "0x" + "00" * 32
    report = run_audit(ledger_dir, records=_write(export, bundles))
    (finding,) = _only(report, "RECORD_PROOF_INVALID")
    assert (finding["line"], finding["leaf_index"]) == (2, 2)
    assert report.checked["records"] == 26


def test_exported_batch_that_is_not_anchored(ledger_dir: Populated, tmp_path: Path) -> None:
    export, bundles = _export_lines(ledger_dir, tmp_path)
    forged = dict(bundles[0], batch_id="0x" + "ab" * 32)  # a real proof, under another batch id
    del bundles[0]
    report = run_audit(ledger_dir, records=_write(export, [*bundles, forged]))
    (finding,) = _only(report, "RECORD_NOT_ANCHORED")
    assert (finding["batch_id"], finding["expected"]) == ("0x" + "ab" * 32, None)


def test_exported_leaf_the_store_does_not_hold(ledger_dir: Populated, tmp_path: Path) -> None:
    export, _ = _export_lines(ledger_dir, tmp_path)

    def drop(s: Any) -> None:
        drop_leaf(s, _first_batch(s).batch_id, 1)

    edit_store(ledger_dir, drop)
    report = run_audit(ledger_dir, records=export)
    assert codes(report) == {"LEAF_MISSING", "RECORD_STORE_MISMATCH"}
    (finding,) = [f for f in report.failing if f.code == "RECORD_STORE_MISMATCH"]
    assert (finding.leaf_index, finding.found) == (1, None)


def test_unreadable_export_lines(ledger_dir: Populated, tmp_path: Path) -> None:
    export, bundles = _export_lines(ledger_dir, tmp_path)
    text = "".join(json.dumps(b) + "\n" for b in bundles)
    export.write_text(text + '{"format": "something else"}\nnot json\n', encoding="utf-8")
    report = run_audit(ledger_dir, records=export)
    assert [f["line"] for f in _only(report, "RECORD_UNREADABLE")] == [28, 29]
