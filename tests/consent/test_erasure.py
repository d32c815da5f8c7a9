"""Erasure: the subject's records, salts, receipts and pseudonym leave the store; proofs stay."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ledger.alerts.events import SOURCES
from ledger.anchoring.bundles import bundle_for
from ledger.consent import ConsentService, Subject
from ledger.consent.erasure import ACCOUNT_FIELD, erase_subject, erasures
from ledger.errors import ErasedError, NotFoundError
from ledger.proofs import verify_bundle
from ledger.records import write_csv
from ledger.records.generate import synthetic_rows
from ledger.store import Store
from ledger.store.accounts import states_of
from ledger.store.leaves import LeafSegment
from ledger.wiring import Ledger
from tests._postgres import dialect
from tests._storebytes import frames_in, readable_bytes
from tests.consent.conftest import T0, make_grant
from tests.records.sample import ID_NUMBER

Check = Callable[..., Any]


@pytest.fixture
def files(ledger: Ledger, store_bytes: Callable[[str], bytes]) -> Callable[[], bytes]:
    """What the store and chain hold on disk now: the data dir's SQLite files with the
    store's records decompressed, and a PostgreSQL store's files with the frames in them."""
    data_dir, url = ledger.settings.data_dir, ledger.settings.db_url
    assert url is not None

    def read() -> bytes:
        found = b"".join(readable_bytes(p) for p in data_dir.rglob("*.sqlite*") if p.is_file())
        if dialect(url) == "sqlite":
            return found
        stored = store_bytes(url)
        return found + stored + frames_in(stored)

    return read


def _pieces(frame: bytes) -> list[bytes]:
    """A stored frame in 512-byte pieces: PostgreSQL keeps a large value in TOAST chunks
    of about 2 KB, so the whole frame is never contiguous in its files, but each of
    these pieces is whole in some chunk once the frame is larger than one."""
    return [frame[i : i + 512] for i in range(0, len(frame), 512)]


def _frames(store: Store) -> list[bytes]:
    """Every segment's records as stored (zstd frames)."""
    with store.session() as s:
        return list(s.scalars(select(LeafSegment.canonicals)))


def test_erasure_leaves_no_trace_and_verification_says_erased(
    ledger: Ledger,
    consents: ConsentService,
    check: Check,
    tmp_path: Path,
    files: Callable[[], bytes],
) -> None:
    rows = list(synthetic_rows(40, seed=5, invalid_ratio=0))
    # a borrower of a co-funded loan (not rows[0]'s, whose proof must stay)
    target = dict(next(r for r in rows[1:] if r.get("funders")))
    assert target["subject_id_number"] != rows[0]["subject_id_number"]
    victim = [r for r in rows if r["subject_id_number"] == target["subject_id_number"]]
    source = tmp_path / "in.csv"
    write_csv(rows, source)
    ledger.submitter().submit(source)
    subject = Subject(
        id_type=str(target["subject_id_type"]), id_number=str(target["subject_id_number"])
    )
    pseudonym = consents.pseudonym(subject)
    grant = make_grant(subject={"id_type": subject.id_type, "id_number": subject.id_number})
    (consent,) = consents.grant([grant])
    check(T0 + timedelta(days=1), id_number=subject.id_number)
    ledger.anchor_inquiries(force=True)
    kept_bundle = bundle_for(ledger.store, str(rows[0]["report_id"]))  # another borrower
    victim_ids = [str(r["report_id"]) for r in victim]
    victim_leaf = bundle_for(ledger.store, victim_ids[0]).leaf_hash
    # the risk alerts keep each co-funded account's last state, under its pseudonym
    assert SOURCES["account"] == ACCOUNT_FIELD  # the field erasure reads is the alerts' key
    accounts = {str(bundle_for(ledger.store, i).record["account_pseudonym"]) for i in victim_ids}
    with ledger.store.session() as s:
        assert len(states_of(s, sorted(accounts))) == len(accounts)
    with ledger.store.engine.connect() as c:  # what autovacuum would sample, had it run
        c.exec_driver_sql("ANALYZE")
    before_files = files()
    # PostgreSQL compresses the record ids' column in line (pglz): they are seen as
    # records, in the frames (and the frames below, by their pieces)
    for canary in [pseudonym, *accounts]:
        assert canary.encode() in before_files, canary
    before = _frames(ledger.store)
    assert all(any(p in before_files for p in _pieces(f)) for f in before)

    report = erase_subject(ledger.store, pseudonym, requested_by="pytest")

    assert (report.records, report.consents, report.inquiries) == (len(victim), 1, 1)
    assert report.left_on_disk == ()
    after = files()
    with ledger.store.session() as s:
        assert states_of(s, sorted(accounts)).is_empty()
    # quoted as stored (JSON), so that RPT-5-2 is not found in RPT-5-21
    for canary in [pseudonym, *(f'"{i}"' for i in victim_ids), *accounts]:
        assert canary.encode() not in after, canary
    for value in ("subject_id_number", "subject_name", "subject_mobile", "account_id"):
        assert str(target[value]).encode() not in after
    # the rewritten segments' old frames are gone from the files too, not only unlinked
    gone = set(before) - set(_frames(ledger.store))
    assert gone and not any(p in after for f in gone for p in _pieces(f))
    # verification of the erased leaf says erased; the batch's other proofs still hold
    with pytest.raises(ErasedError):
        bundle_for(ledger.store, "0x" + victim_leaf.hex())
    verify_bundle(bundle_for(ledger.store, str(rows[0]["report_id"])))
    assert kept_bundle.root == bundle_for(ledger.store, str(rows[0]["report_id"])).root
    erased = consents.get(consent.consent_id)
    assert erased.receipt is None and erased.subject_pseudonym is None and erased.erased_at
    assert consents.show(consent.consent_id)["chain_status"]["commitment"] == consent.commitment
    # the consent is gone from checks, and the erasure record names no one
    assert check(T0 + timedelta(days=1), id_number=subject.id_number).reason == "no_consent"
    (record,) = erasures(ledger.store)
    assert record["records"] == len(victim) and record["batches"]
    assert pseudonym not in json.dumps(record)
    with pytest.raises(NotFoundError):
        erase_subject(
            ledger.store, consents.pseudonym(Subject(id_number=ID_NUMBER)), requested_by="x"
        )
