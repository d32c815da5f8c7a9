"""The inquiry log is sealed into kind-2 batches, anchored once, and provable."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ledger.anchoring.bundles import bundle_for
from ledger.chain.registry import BatchKind
from ledger.consent import ConsentService
from ledger.proofs import verify_bundle
from ledger.store import Batch, Inquiry
from ledger.wiring import Ledger
from tests.conftest import WAIT_SECONDS, wait_until
from tests.consent.conftest import T0, inquiry_row, make_grant, refused_inquiry

Check = Callable[..., Any]


def test_inquiries_are_sealed_at_the_size_threshold_and_anchored(
    ledger: Ledger, consents: ConsentService, check: Check
) -> None:
    consents.grant([make_grant()])
    answers = [check(T0 + timedelta(days=d)) for d in range(5)]
    ledger.settings.inquiry_seal_size = 10
    assert ledger.anchor_inquiries() == []  # 5 < 10 and the oldest is fresh: not due
    assert consents.inquiries.unsealed()[0] == 5
    ledger.settings.inquiry_seal_size = 5
    sealed = ledger.anchor_inquiries()
    assert len(sealed) == 1
    with ledger.store.session() as s:
        batch = s.get_one(Batch, sealed[0])
        rows = list(s.scalars(select(Inquiry).order_by(Inquiry.seq)))
    assert batch.kind == int(BatchKind.INQUIRY_LOG) and batch.status == "anchored"
    assert batch.tree_size == 5 and [r.leaf_index for r in rows] == [0, 1, 2, 3, 4]
    on_chain = ledger.registry.anchor_by_batch(bytes.fromhex(batch.batch_id[2:]))
    assert on_chain is not None and on_chain.kind == int(BatchKind.INQUIRY_LOG)
    assert "0x" + on_chain.root.hex() == batch.root
    # each inquiry proves against the anchored root, and says what was asked
    bundle = bundle_for(ledger.store, answers[2].inquiry_id)
    verify_bundle(bundle)
    assert bundle.record is not None
    assert bundle.record["inquiry_id"] == answers[2].inquiry_id
    assert bundle.record["result"] == "granted"
    assert ledger.anchor_inquiries(force=True) == []  # nothing left, nothing re-anchored


def test_seal_on_timer(ledger: Ledger, consents: ConsentService, check: Check) -> None:
    log = consents.inquiries
    assert not log.due(seconds=0)  # nothing to seal
    check(T0)  # checked for an old instant, logged now
    _, oldest = log.unsealed()
    assert oldest is not None
    logged = datetime.fromisoformat(oldest.replace("Z", "+00:00"))
    assert abs((logged - datetime.now(UTC)).total_seconds()) < 60
    assert not log.due(now=logged + timedelta(seconds=59), seconds=60)
    assert log.due(now=logged + timedelta(seconds=60), seconds=60)


def test_a_crash_between_seal_and_anchor_loses_nothing(
    ledger: Ledger, consents: ConsentService, check: Check
) -> None:
    for d in range(3):
        check(T0 + timedelta(days=d))
    batch_id = consents.inquiries.seal()  # stored, pending: the process dies here
    assert batch_id is not None
    with ledger.store.session() as s:
        assert s.get_one(Batch, batch_id).status == "pending"
    assert ledger.anchor_inquiries() == []  # the restart anchors the pending batch
    with ledger.store.session() as s:
        assert s.get_one(Batch, batch_id).status == "anchored"
    assert ledger.registry.anchor_count() == 1


def test_inquiry_leaves_hold_no_identity(
    ledger: Ledger, consents: ConsentService, check: Check
) -> None:
    from tests.records.sample import ID_NUMBER

    check(T0)
    (batch_id,) = ledger.anchor_inquiries(force=True)
    with ledger.store.session() as s:
        (row,) = s.scalars(select(Inquiry))
    bundle = bundle_for(ledger.store, row.inquiry_id)
    text = json.dumps(bundle.to_json())
    assert ID_NUMBER not in text and row.subject_pseudonym in text
    assert bundle.record is not None and len(bundle.record["salt"]) == 66
    assert batch_id == bundle.to_json()["batch_id"]


def test_concurrent_checks_share_commits_and_lose_nothing(ledger: Ledger) -> None:
    import threading

    from ledger.consent.inquiries import InquiryLog

    log = InquiryLog(ledger.store, submitter="x", key_ids={})
    made: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(25):
            row = log.log(**refused_inquiry(f"BANK-{n}", checked_at=T0 + timedelta(seconds=i)))
            with ledger.store.session() as s:  # committed before log() returned
                assert s.scalar(select(Inquiry).where(Inquiry.inquiry_id == row["inquiry_id"]))
            with lock:
                made.append(row["inquiry_id"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with ledger.store.session() as s:
        stored = set(s.scalars(select(Inquiry.inquiry_id)))
    assert len(made) == 200 and stored == set(made)


def test_a_failed_group_commit_fails_its_callers(ledger: Ledger) -> None:
    import pytest

    from ledger.consent.group_commit import GroupCommit

    writer = GroupCommit(ledger.store)
    row = {"inquiry_id": "0x" + "01" * 32, "institution": "B", "requested_by": "p",
           "subject_pseudonym": None, "purpose": "LOAN_APPROVAL", "consent_id": None,
           "result": "refused", "reason": "no_consent", "checked_at": "2026-01-01T00:00:00Z",
           "logged_at": "2026-01-01T00:00:00Z"}  # fmt: skip
    writer.write(row)
    with pytest.raises(Exception, match=r"(?i)\bunique\b"):
        writer.write(dict(row))  # the same inquiry id twice
    writer.write({**row, "inquiry_id": "0x" + "02" * 32})  # the writer still works


def test_the_writer_thread_calls_back_once_each_row_is_durable(ledger: Ledger) -> None:
    import threading

    from ledger.consent.inquiries import InquiryLog

    log = InquiryLog(ledger.store, submitter="x", key_ids={})
    rows = [inquiry_row(log) for _ in range(300)]
    rows.append(dict(rows[0]))  # a duplicate inquiry id: its commit fails
    results: dict[int, BaseException | None] = {}
    durable: dict[int, bool] = {}
    finished = threading.Event()

    def done_for(i: int) -> Callable[[BaseException | None], None]:
        def done(error: BaseException | None) -> None:
            with ledger.store.session() as s:
                durable[i] = bool(
                    s.scalar(select(Inquiry).where(Inquiry.inquiry_id == rows[i]["inquiry_id"]))
                )
            results[i] = error
            if len(results) == len(rows):
                finished.set()

        return done

    for i, row in enumerate(rows[:-1]):
        log.submit(row, done_for(i))
    wait_until(lambda: len(results) >= len(rows) - 1)
    assert all(results[i] is None and durable[i] for i in range(len(rows) - 1))
    log.submit(rows[-1], done_for(len(rows) - 1))
    assert finished.wait(WAIT_SECONDS)
    assert results[len(rows) - 1] is not None  # the duplicate was refused, and said so
