"""A document replayed under another id: the operator holds the recorder key, so the store
and the chain agree with each other, and only the id hashed into the document gives it away.

Each tampering is done as an operator would do it: through the real store and the real
embedded chain, signing with the data dir's key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.chain.registry import ConsentRegistryClient
from ledger.chain.types import BatchKind
from ledger.config import Settings
from ledger.consent.receipt import commitment, receipt_bytes
from ledger.records.generate import synthetic_rows
from ledger.store import Batch, Consent, Store
from ledger.wiring import Ledger
from tests.audit.conftest import (
    BATCH_SIZE,
    ROWS,
    Populated,
    codes,
    export_to,
    run_audit,
)
from tests.cli._cli import run
from tests.consent.conftest import BANK, T0, make_grant

DAY = timedelta(days=1)


@contextmanager
def operator(p: Populated) -> Iterator[Ledger]:
    """The platform's own ledger: its store, its chain, its recorder key."""
    settings = Settings(data_dir=p.data_dir, rpc_url=None, db_url=p.db_url, batch_size=BATCH_SIZE)
    with Ledger.open(settings, holder="pytest operator") as ledger:
        yield ledger


def unhex(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def replay_consent(p: Populated, *, store_it: bool = True) -> str:
    """Consent A's receipt stored under a fresh id B, and B recorded on chain with A's
    commitment and window; returns B."""
    new_id = "0x" + os.urandom(32).hex()
    with operator(p) as ledger:
        with ledger.store.session() as s, s.begin():
            a = s.get_one(Consent, p.valid_consent)
            columns = {c.key: getattr(a, c.key) for c in Consent.__mapper__.columns}
            if store_it:
                s.add(Consent(**columns | {"consent_id": new_id}))
        registry = ConsentRegistryClient.from_deployment(ledger.chain, ledger.deployment)
        registry.record(
            unhex(new_id),
            unhex(columns["commitment"]),
            columns["valid_from"],
            columns["valid_until"],
        )
    return new_id


def withdraw_and_grant_under(p: Populated, consent_id: str, at: datetime) -> str:
    """Withdraw consent A (on chain), then log and anchor a granted inquiry under
    ``consent_id``; returns the inquiry id."""
    with operator(p) as ledger:
        consents = ledger.consents()
        consents.revoke(p.valid_consent, T0 + 20 * DAY)
        with ledger.store.session() as s:
            pseudonym = s.get_one(Consent, p.valid_consent).subject_pseudonym
        assert pseudonym is not None
        inquiry = consents.inquiries.log(
            institution=BANK,
            requested_by="operator",
            subject_pseudonym=pseudonym,
            purpose="LOAN_APPROVAL",
            consent_id=consent_id,
            result="granted",
            reason="valid",
            checked_at=at,
        )
        ledger.anchor_inquiries(force=True)
    return str(inquiry["inquiry_id"])


def findings(report: Any, code: str) -> list[dict[str, Any]]:
    return [f.to_json() for f in report.findings if f.code == code]


def test_a_receipt_replayed_under_a_new_id_is_reported(ledger_dir: Populated) -> None:
    replayed = replay_consent(ledger_dir)
    report = run_audit(ledger_dir)
    assert codes(report) == {"CONSENT_RECEIPT_ID_MISMATCH", "CONSENT_RECEIPT_DUPLICATE"}
    (mismatch,) = findings(report, "CONSENT_RECEIPT_ID_MISMATCH")
    assert (mismatch["consent_id"], mismatch["expected"], mismatch["found"]) == (
        replayed,
        replayed,
        ledger_dir.valid_consent,
    )
    (duplicate,) = findings(report, "CONSENT_RECEIPT_DUPLICATE")
    assert (duplicate["consent_id"], duplicate["expected"]) == (replayed, ledger_dir.valid_consent)


def test_inquiries_granted_under_it_after_the_original_was_withdrawn_are_unsupported(
    ledger_dir: Populated,
) -> None:
    replayed = replay_consent(ledger_dir)
    inquiry = withdraw_and_grant_under(ledger_dir, replayed, T0 + 30 * DAY)
    report = run_audit(ledger_dir)
    assert codes(report) == {
        "CONSENT_RECEIPT_ID_MISMATCH",
        "CONSENT_RECEIPT_DUPLICATE",
        "INQUIRY_CONSENT_UNSUPPORTED",
    }, report.to_json()["findings"]
    (unsupported,) = findings(report, "INQUIRY_CONSENT_UNSUPPORTED")
    assert unsupported["inquiry_id"] == inquiry
    assert (unsupported["consent_id"], unsupported["expected"]) == (
        replayed,
        ledger_dir.valid_consent,
    )


def test_a_commitment_recorded_again_under_an_id_the_store_lacks(ledger_dir: Populated) -> None:
    """Only the chain has B: one commitment under two ids is enough to tell."""
    replayed = replay_consent(ledger_dir, store_it=False)
    withdraw_and_grant_under(ledger_dir, replayed, T0 + 30 * DAY)
    report = run_audit(ledger_dir)
    assert codes(report) == {
        "CONSENT_NOT_IN_STORE",
        "CONSENT_RECEIPT_DUPLICATE",
        "INQUIRY_CONSENT_UNSUPPORTED",
    }, report.to_json()["findings"]


def test_consent_check_refuses_it_naming_the_id_mismatch(ledger_dir: Populated) -> None:
    replayed = replay_consent(ledger_dir)
    with operator(ledger_dir) as ledger:
        ledger.consents().revoke(ledger_dir.valid_consent, T0 + 20 * DAY)
    env = {
        "LEDGER_DATA_DIR": str(ledger_dir.data_dir),
        "LEDGER_SUBJECT_ID": _subject()["id_number"],
        **({"LEDGER_DB_URL": ledger_dir.db_url} if ledger_dir.db_url else {}),
    }
    at = (T0 + 30 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    args = ("consent", "check", "--institution", BANK, "--purpose", "LOAN_APPROVAL")
    done = run(*args, "--at", at, "--json", env=env)
    assert done.returncode == 1, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["granted"], answer["reason"]) == (False, "receipt_id_mismatch")
    assert answer["consent_id"] == replayed
    (line,) = [json.loads(x) for x in done.stderr.splitlines() if "receipt" in x]
    assert line["reason"] == "receipt_id_mismatch" and line["consent_id"] == replayed
    assert line["field"] == "consent_id"
    assert "does not match its commitment" not in done.stderr


def test_a_rebuild_takes_no_receipt_or_manifest_replayed_under_another_id(
    ledger_dir: Populated, tmp_path: Path
) -> None:
    replayed = replay_consent(ledger_dir)
    batch = replay_manifest(ledger_dir)
    export = export_to(ledger_dir, tmp_path / "export.jsonl")
    rebuilt = Store(f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
    try:
        report = run_audit(ledger_dir, records=export, rebuild=rebuilt)
        assert {"CONSENT_RECEIPT_DUPLICATE", "CHAIN_MANIFEST_DUPLICATE"} <= codes(report)
        with rebuilt.session() as s:
            assert s.get_one(Consent, ledger_dir.valid_consent).receipt is not None
            copy = s.get_one(Consent, replayed)
            assert (copy.receipt, copy.subject_pseudonym) == (None, None)
            assert s.get_one(Batch, batch.replayed).manifest == ""
            assert s.get_one(Batch, batch.original).manifest != ""
    finally:
        rebuilt.close()


class ReplayedBatch:
    def __init__(self, original: str, replayed: str) -> None:
        self.original, self.replayed = original, replayed


def replay_manifest(p: Populated, *, store_it: bool = True) -> ReplayedBatch:
    """A new batch anchored with a credit batch's manifest hash (a root of its own, as the
    contract wants), and stored with that batch's manifest (pending: not exported)."""
    new_id = "0x" + os.urandom(32).hex()
    with operator(p) as ledger:
        with ledger.store.session() as s, s.begin():
            first = s.query(Batch).filter(Batch.kind == 1).order_by(Batch.seq).first()
            assert first is not None
            original, manifest, mh = first.batch_id, first.manifest, first.manifest_hash
            if store_it:
                s.add(
                    Batch(
                        batch_id=new_id,
                        kind=1,
                        tree_size=1,
                        root="0x" + "5a" * 32,
                        manifest=manifest,
                        manifest_hash=mh,
                        status="pending",
                        created_at=first.created_at,
                    )
                )
        ledger.registry.anchor(unhex(new_id), b"\x5a" * 32, 1, BatchKind.CREDIT_DATA, unhex(mh))
    return ReplayedBatch(original, new_id)


def test_a_manifest_anchored_again_under_a_new_batch_id(ledger_dir: Populated) -> None:
    batch = replay_manifest(ledger_dir, store_it=False)
    report = run_audit(ledger_dir, store=False)
    assert codes(report) == {"CHAIN_MANIFEST_DUPLICATE"}
    (finding,) = findings(report, "CHAIN_MANIFEST_DUPLICATE")
    assert (finding["batch_id"], finding["expected"]) == (batch.replayed, batch.original)


def test_a_stored_manifest_of_another_batch(ledger_dir: Populated) -> None:
    batch = replay_manifest(ledger_dir)
    report = run_audit(ledger_dir)
    mismatches = findings(report, "STORE_MANIFEST_ID_MISMATCH")
    assert [(f["batch_id"], f["expected"], f["found"]) for f in mismatches] == [
        (batch.replayed, batch.replayed, batch.original)
    ]
    (tree,) = findings(report, "STORE_MANIFEST_TREE_MISMATCH")
    assert tree["found"] == "differs: root,tree_size"


def test_a_consent_recorded_with_a_longer_window_than_its_receipt(ledger_dir: Populated) -> None:
    """A receipt of its own, but recorded (and kept in its row) valid a year longer than
    the borrower agreed: the check refuses it, and so must the audit."""
    new_id = "0x" + os.urandom(32).hex()
    year = 365 * 86400
    with operator(ledger_dir) as ledger:
        with ledger.store.session() as s, s.begin():
            a = s.get_one(Consent, ledger_dir.valid_consent)
            columns = {c.key: getattr(a, c.key) for c in Consent.__mapper__.columns}
            receipt = receipt_bytes(json.loads(a.receipt or b"") | {"consent_id": new_id})
            row = columns | {
                "consent_id": new_id,
                "receipt": receipt,
                "commitment": commitment(receipt),
                "valid_until": columns["valid_until"] + year,
            }
            s.add(Consent(**row))
        registry = ConsentRegistryClient.from_deployment(ledger.chain, ledger.deployment)
        registry.record(
            unhex(new_id), unhex(row["commitment"]), row["valid_from"], row["valid_until"]
        )
    inquiry = withdraw_and_grant_under(ledger_dir, new_id, T0 + 400 * DAY)
    report = run_audit(ledger_dir)
    assert codes(report) == {"CONSENT_WINDOW_MISMATCH", "INQUIRY_CONSENT_NOT_VALID"}
    (window,) = findings(report, "CONSENT_WINDOW_MISMATCH")
    assert window["consent_id"] == new_id and window["found"].startswith("receipt ")
    (late,) = findings(report, "INQUIRY_CONSENT_NOT_VALID")
    assert late["inquiry_id"] == inquiry and late["expected"].startswith("receipt ")


def _subject() -> dict[str, str]:
    row = next(iter(synthetic_rows(ROWS, seed=11, invalid_ratio=0)))
    return {"id_type": str(row["subject_id_type"]), "id_number": str(row["subject_id_number"])}


def test_a_consent_superseded_through_the_service_audits_clean(ledger_dir: Populated) -> None:
    with operator(ledger_dir) as ledger:
        (new,) = ledger.consents().grant(
            [
                make_grant(
                    subject=_subject(),
                    supersedes=ledger_dir.valid_consent,
                    valid_from=(T0 + 15 * DAY).isoformat(),
                )
            ]
        )
    assert new.supersedes == ledger_dir.valid_consent
    report = run_audit(ledger_dir)
    assert report.clean, report.to_json()["findings"]


def test_a_superseded_consent_left_valid_on_chain_and_used(ledger_dir: Populated) -> None:
    """The new receipt (the borrower's) supersedes A from day 15; the operator records it
    but never withdraws A, and goes on granting under A."""
    new_id = "0x" + os.urandom(32).hex()
    start = T0 + 15 * DAY
    with operator(ledger_dir) as ledger:
        with ledger.store.session() as s, s.begin():
            a = s.get_one(Consent, ledger_dir.valid_consent)
            columns = {c.key: getattr(a, c.key) for c in Consent.__mapper__.columns}
            receipt = receipt_bytes(
                json.loads(a.receipt or b"")
                | {
                    "consent_id": new_id,
                    "supersedes": a.consent_id,
                    "valid_from": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "salt": "0x" + os.urandom(32).hex(),
                }
            )
            row = columns | {
                "consent_id": new_id,
                "receipt": receipt,
                "commitment": commitment(receipt),
                "valid_from": int(start.timestamp()),
                "supersedes": a.consent_id,
            }
            s.add(Consent(**row))
        registry = ConsentRegistryClient.from_deployment(ledger.chain, ledger.deployment)
        registry.record(
            unhex(new_id), unhex(row["commitment"]), row["valid_from"], row["valid_until"]
        )
        consents = ledger.consents()
        inquiry = consents.inquiries.log(
            institution=BANK,
            requested_by="operator",
            subject_pseudonym=columns["subject_pseudonym"],
            purpose="LOAN_APPROVAL",
            consent_id=ledger_dir.valid_consent,
            result="granted",
            reason="valid",
            checked_at=T0 + 30 * DAY,
        )
        ledger.anchor_inquiries(force=True)
    report = run_audit(ledger_dir)
    assert codes(report) == {"CONSENT_SUPERSEDED_NOT_WITHDRAWN", "INQUIRY_CONSENT_NOT_VALID"}
    (left,) = findings(report, "CONSENT_SUPERSEDED_NOT_WITHDRAWN")
    assert (left["consent_id"], left["found"]) == (ledger_dir.valid_consent, 0)
    (late,) = findings(report, "INQUIRY_CONSENT_NOT_VALID")
    assert late["inquiry_id"] == inquiry["inquiry_id"]
    assert late["expected"] == f"superseded: t<{int(start.timestamp())}"
