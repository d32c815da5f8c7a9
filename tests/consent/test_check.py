"""Every validity rule of a consent check, at its boundaries, on the real chain and store."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from ledger.chain.registry import (
    AnchorRegistryClient,
    BatchKind,
    ConsentRecord,
    ConsentRegistryClient,
)
from ledger.consent import ConsentService, Subject
from ledger.consent.statuses import NEEDS_CHAIN, StatusCache
from ledger.errors import ConflictError, UnavailableError
from ledger.store import Consent, Inquiry
from ledger.wiring import Ledger
from tests.conftest import WAIT_SECONDS, wait_until
from tests.consent.conftest import BANK, OTHER_BANK, OTHER_ID, T0, make_grant

Check = Callable[..., Any]
YEAR = timedelta(days=365)
SECOND = timedelta(seconds=1)


def test_granted_inside_the_window_with_on_chain_evidence(
    consents: ConsentService, check: Check
) -> None:
    (row,) = consents.grant([make_grant()])
    assert row.status == "recorded" and row.tx_hash and row.block_number
    answer = check(T0 + timedelta(days=10))
    assert answer.granted and answer.reason == "valid"
    assert answer.consent_id == row.consent_id
    assert (answer.valid_from, answer.valid_until) == (
        "2026-01-01T00:00:00Z",
        "2027-01-01T00:00:00Z",
    )
    assert answer.evidence.tx_hash == row.tx_hash
    assert answer.evidence.block_number == row.block_number
    assert answer.inquiry_id.startswith("0x")


@pytest.mark.parametrize(
    ("offset", "granted", "reason"),
    [
        (-SECOND, False, "not_yet_valid"),
        (timedelta(0), True, "valid"),  # valid_from is the first valid second
        (YEAR - SECOND, True, "valid"),
        (YEAR, False, "expired"),  # valid_until is the first invalid second
    ],
)
def test_window_boundaries(
    consents: ConsentService, check: Check, offset: timedelta, granted: bool, reason: str
) -> None:
    consents.grant([make_grant()])
    answer = check(T0 + offset)
    assert (answer.granted, answer.reason) == (granted, reason)


def test_open_ended_consent_never_expires(consents: ConsentService, check: Check) -> None:
    consents.grant([make_grant(valid_until=None)])
    assert check(T0 + 50 * YEAR).granted


def test_revoked_exactly_at_t_is_refused_and_a_second_before_is_valid(
    consents: ConsentService, check: Check, ledger: Ledger
) -> None:
    (row,) = consents.grant([make_grant()])
    revoked_at = T0 + timedelta(days=30)
    after = consents.revoke(row.consent_id, revoked_at)
    assert after.revoke_status == "recorded" and after.revoke_tx_hash
    registry = ConsentRegistryClient.from_deployment(ledger.chain, ledger.deployment)
    status = registry.status(bytes.fromhex(row.consent_id[2:]))
    assert status is not None and status.revoked_at == int(revoked_at.timestamp())
    assert check(revoked_at - SECOND).granted
    answer = check(revoked_at)
    assert (answer.granted, answer.reason) == (False, "revoked")
    assert answer.revoked_at == "2026-01-31T00:00:00Z"


def test_a_pending_withdrawal_already_refuses(
    consents: ConsentService, check: Check, monkeypatch: pytest.MonkeyPatch
) -> None:
    (row,) = consents.grant([make_grant()])
    monkeypatch.setattr(consents, "flush", lambda: None)  # the chain never hears of it
    consents.revoke(row.consent_id, T0 + timedelta(days=1))
    assert consents.get(row.consent_id).revoke_status == "pending"
    assert check(T0 + timedelta(days=2)).reason == "revoked"


def test_wrong_institution_and_wrong_purpose(consents: ConsentService, check: Check) -> None:
    consents.grant([make_grant()])
    other = check(T0 + timedelta(days=1), institution=OTHER_BANK)
    assert (other.granted, other.reason, other.consent_id) == (False, "no_consent", None)
    purpose = check(T0 + timedelta(days=1), purpose="CREDIT_CARD_APPROVAL")
    assert (purpose.granted, purpose.reason, purpose.consent_id) == (
        False,
        "purpose_not_covered",
        None,
    )
    nobody = check(T0 + timedelta(days=1), id_number=OTHER_ID)
    assert (nobody.granted, nobody.reason) == (False, "no_consent")


def test_revoked_then_regranted(consents: ConsentService, check: Check) -> None:
    (first,) = consents.grant([make_grant()])
    consents.revoke(first.consent_id, T0 + timedelta(days=10))
    assert check(T0 + timedelta(days=20)).reason == "revoked"
    (second,) = consents.grant([make_grant(valid_from=(T0 + timedelta(days=20)).isoformat())])
    answer = check(T0 + timedelta(days=20))
    assert answer.granted and answer.consent_id == second.consent_id
    # between the withdrawal and the new consent there was none
    assert check(T0 + timedelta(days=15)).reason == "revoked"


def test_superseded_consent_ends_where_the_new_one_starts(
    consents: ConsentService, check: Check
) -> None:
    (old,) = consents.grant([make_grant(recipients=[BANK, OTHER_BANK, "LENDER-1"])])
    start = T0 + timedelta(days=100)
    (new,) = consents.grant([make_grant(valid_from=start.isoformat(), supersedes=old.consent_id)])
    refreshed = consents.get(old.consent_id)
    assert refreshed.superseded_by == new.consent_id
    assert refreshed.revoked_at == int(start.timestamp()) and refreshed.revoke_status == "recorded"
    assert check(start - SECOND).consent_id == old.consent_id
    assert check(start).consent_id == new.consent_id
    # the new consent no longer names OTHER_BANK: the old one answers, superseded
    answer = check(start, institution=OTHER_BANK)
    assert (answer.granted, answer.reason, answer.consent_id) == (
        False,
        "superseded",
        old.consent_id,
    )


def test_supersedes_must_name_the_same_subjects_consent(consents: ConsentService) -> None:
    from ledger.errors import InputError, NotFoundError

    (old,) = consents.grant([make_grant()])
    with pytest.raises(NotFoundError):
        consents.grant([make_grant(supersedes="0x" + "00" * 32)])
    with pytest.raises(InputError, match="another subject"):
        consents.grant(
            [
                make_grant(
                    subject={"id_type": "10", "id_number": OTHER_ID}, supersedes=old.consent_id
                )
            ]
        )


@pytest.mark.parametrize("what", ["receipt", "receipt-and-commitment", "window"])
def test_a_receipt_tampered_in_the_store_is_detected(
    consents: ConsentService, check: Check, what: str
) -> None:
    (row,) = consents.grant([make_grant(purposes=["POST_LOAN_MANAGEMENT"])])
    assert row.receipt is not None
    # checked once before: what the check remembered of the receipt must not hide the change
    assert check(T0 + timedelta(days=1), purpose="POST_LOAN_MANAGEMENT").granted
    # the insider adds a purpose the borrower never agreed to
    forged = row.receipt.replace(
        b'"purposes":["POST_LOAN_MANAGEMENT"]',
        b'"purposes":["LOAN_APPROVAL","POST_LOAN_MANAGEMENT"]',
    )
    assert forged != row.receipt
    from ledger.consent.receipt import commitment

    values: dict[str, Any] = {"receipt": forged}
    if what == "receipt-and-commitment":
        values["commitment"] = commitment(forged)
    if what == "window":
        values = {"valid_until": 0}
    with consents.store.session() as s, s.begin():
        s.execute(update(Consent).where(Consent.consent_id == row.consent_id).values(**values))
    purpose = "LOAN_APPROVAL" if what != "window" else "POST_LOAN_MANAGEMENT"
    answer = check(T0 + timedelta(days=1), purpose=purpose)
    assert (answer.granted, answer.reason) == (False, "receipt_mismatch")


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record)


@pytest.fixture
def error_lines() -> Iterator[list[logging.LogRecord]]:
    """The service's error log lines (whatever the ``ledger`` logger's own handlers are)."""
    handler = _Lines()
    logger = logging.getLogger("ledger.consent.service")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def test_a_receipt_replayed_under_a_new_id_is_refused_as_an_id_mismatch(
    consents: ConsentService, check: Check, ledger: Ledger, error_lines: list[Any]
) -> None:
    """The operator stores A's receipt under B and records B with A's commitment and
    window: after A is withdrawn, B is refused, and the log says why."""
    (a,) = consents.grant([make_grant()])
    replayed = "0x" + "b2" * 32
    with consents.store.session() as s, s.begin():
        row = s.get_one(Consent, a.consent_id)
        columns = {c.key: getattr(row, c.key) for c in Consent.__mapper__.columns}
        s.add(Consent(**columns | {"consent_id": replayed}))
    registry = ConsentRegistryClient.from_deployment(ledger.chain, ledger.deployment)
    registry.record(
        bytes.fromhex(replayed[2:]),
        bytes.fromhex(a.commitment[2:]),
        a.valid_from,
        a.valid_until,
    )
    assert check(T0 + timedelta(days=1)).consent_id == a.consent_id  # A itself still holds
    consents.revoke(a.consent_id, T0 + timedelta(days=5))
    error_lines.clear()
    answer = check(T0 + timedelta(days=10))
    assert (answer.granted, answer.reason) == (False, "receipt_id_mismatch")
    assert answer.consent_id == replayed
    (line,) = error_lines
    assert "does not match its commitment" not in line.getMessage()
    assert "another consent id" in line.getMessage()
    assert line.fields == {
        "consent_id": replayed,
        "field": "consent_id",
        "reason": "receipt_id_mismatch",
    }
    with consents.store.session() as s:
        logged = s.scalars(select(Inquiry).where(Inquiry.inquiry_id == answer.inquiry_id)).one()
    assert (logged.result, logged.reason) == ("refused", "receipt_id_mismatch")


def test_a_receipt_filed_under_another_subject_is_refused_as_an_id_mismatch(
    consents: ConsentService, check: Check, error_lines: list[Any]
) -> None:
    (row,) = consents.grant([make_grant()])
    other = consents.pseudonym(Subject(id_number=OTHER_ID))
    with consents.store.session() as s, s.begin():
        s.get_one(Consent, row.consent_id).subject_pseudonym = other
    answer = check(T0 + timedelta(days=1), id_number=OTHER_ID)
    assert (answer.granted, answer.reason) == (False, "receipt_id_mismatch")
    (line,) = error_lines
    assert line.fields["field"] == "subject"


def test_a_tampered_receipt_is_still_a_receipt_mismatch(
    consents: ConsentService, check: Check, error_lines: list[Any]
) -> None:
    (row,) = consents.grant([make_grant()])
    assert row.receipt is not None
    with consents.store.session() as s, s.begin():
        s.get_one(Consent, row.consent_id).receipt = row.receipt.replace(b"BANK-A", b"BANK-Q")
    answer = check(T0 + timedelta(days=1), institution="BANK-Q")
    assert (answer.granted, answer.reason) == (False, "receipt_mismatch")
    (line,) = error_lines
    assert line.getMessage() == "consent receipt does not match its commitment"


def test_every_check_is_an_inquiry(consents: ConsentService, check: Check) -> None:
    consents.grant([make_grant()])
    answers = [
        check(T0 + timedelta(days=1)),
        check(T0 - timedelta(days=1)),
        check(T0 + timedelta(days=1), institution=OTHER_BANK),
    ]
    with consents.store.session() as s:
        rows = list(s.scalars(select(Inquiry).order_by(Inquiry.seq)))
    assert [r.inquiry_id for r in rows] == [a.inquiry_id for a in answers]
    assert [(r.result, r.reason, r.institution) for r in rows] == [
        ("granted", "valid", BANK),
        ("refused", "not_yet_valid", BANK),
        ("refused", "no_consent", OTHER_BANK),
    ]
    assert all(r.subject_pseudonym and r.subject_pseudonym.startswith("0x") for r in rows)
    assert rows[0].checked_at == "2026-01-02T00:00:00Z"


def test_a_check_needs_a_known_purpose(consents: ConsentService, check: Check) -> None:
    from ledger.errors import InputError

    with pytest.raises(InputError, match="purpose must be one of"):
        check(T0, purpose="MARKETING")


def test_an_on_chain_window_that_differs_from_the_receipt_is_refused(
    consents: ConsentService, check: Check, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    flush = consents.flush
    monkeypatch.setattr(consents, "flush", lambda: None)
    (row,) = consents.grant([make_grant()])
    registry = ConsentRegistryClient.from_deployment(ledger.chain, ledger.deployment)
    # a faulty recorder put the right commitment on chain with a longer window
    registry.record(
        bytes.fromhex(row.consent_id[2:]),
        bytes.fromhex(row.commitment[2:]),
        row.valid_from,
        row.valid_until + 86400,
    )
    with pytest.raises(ConflictError, match="another commitment or window"):
        flush()
    assert consents.get(row.consent_id).status == "pending"
    answer = check(T0 + timedelta(days=1))
    assert (answer.granted, answer.reason) == (False, "receipt_mismatch")


def test_a_withdrawal_by_another_writer_is_seen_when_the_head_is_next_looked_at(
    consents: ConsentService, check: Check, ledger: Ledger
) -> None:
    (row,) = consents.grant([make_grant()])
    assert consents.statuses is not None
    consents.statuses.max_age = 3600.0  # look at the head once, then trust the cache
    at = T0 + timedelta(days=5)
    assert check(at).granted
    registry = ConsentRegistryClient.from_deployment(ledger.chain, ledger.deployment)
    registry.revoke(bytes.fromhex(row.consent_id[2:]), int((T0 + timedelta(days=1)).timestamp()))
    assert check(at).granted  # the store knows nothing, the head was not looked at again
    consents.statuses.max_age = 0.0
    answer = check(at)
    assert (answer.granted, answer.reason) == (False, "revoked")


def test_blocks_without_consent_logs_keep_cached_statuses(
    consents: ConsentService, check: Check, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    (row,) = consents.grant([make_grant()])
    statuses = consents.statuses
    assert statuses is not None
    statuses.max_age = 0.0  # look at the head before every check
    at = T0 + timedelta(days=5)
    assert check(at).granted
    reads: list[bytes] = []
    real_status = statuses.registry.status
    monkeypatch.setattr(statuses.registry, "status", lambda c: reads.append(c) or real_status(c))
    anchors = AnchorRegistryClient.from_deployment(ledger.chain, ledger.deployment)
    for _ in range(3):  # other transactions (here: anchors) move the head
        anchors.anchor(os.urandom(32), os.urandom(32), 1, BatchKind.INQUIRY_LOG, os.urandom(32))
        assert check(at).granted
    assert reads == []  # the status stayed cached across those blocks
    other = ConsentRegistryClient.from_deployment(ledger.chain, ledger.deployment)
    other.revoke(bytes.fromhex(row.consent_id[2:]), int((T0 + timedelta(days=1)).timestamp()))
    answer = check(at)
    assert (answer.granted, answer.reason) == (False, "revoked")
    assert reads == [bytes.fromhex(row.consent_id[2:])]  # that consent's log dropped it


def test_the_registry_names_the_consents_its_blocks_changed(
    consents: ConsentService, ledger: Ledger
) -> None:
    registry = ConsentRegistryClient.from_deployment(ledger.chain, ledger.deployment)
    start = ledger.chain.block_number() + 1
    (row,) = consents.grant([make_grant()])
    consent_id = bytes.fromhex(row.consent_id[2:])
    assert registry.changed(start, ledger.chain.block_number()) == {consent_id}
    registry.revoke(consent_id, int(T0.timestamp()) + 60)
    head = ledger.chain.block_number()
    assert registry.changed(head, head) == {consent_id}
    anchors = AnchorRegistryClient.from_deployment(ledger.chain, ledger.deployment)
    anchors.anchor(os.urandom(32), os.urandom(32), 1, BatchKind.INQUIRY_LOG, os.urandom(32))
    head = ledger.chain.block_number()
    assert registry.changed(head, head) == set()


def test_the_event_loop_answers_from_the_cache_while_a_thread_follows_the_head(
    consents: ConsentService, check: Check, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    (row,) = consents.grant([make_grant()])
    statuses = consents.statuses
    assert statuses is not None
    assert check(T0 + timedelta(days=5)).granted  # looked at the head, status cached
    statuses.max_age = 0.0  # stale from now on
    other = ConsentRegistryClient.from_deployment(ledger.chain, ledger.deployment)
    other.revoke(bytes.fromhex(row.consent_id[2:]), int((T0 + timedelta(days=1)).timestamp()))
    chain, looking = statuses.registry.chain, threading.Event()
    real_block_number = chain.block_number

    def slow_block_number() -> int:
        assert looking.wait(WAIT_SECONDS)
        return real_block_number()

    monkeypatch.setattr(chain, "block_number", slow_block_number)
    # No chain read on this call: the cached status, while a thread looks at the head.
    cached = statuses.get(row.consent_id, cached_only=True)
    assert isinstance(cached, ConsentRecord) and cached.revoked_at == 0
    looking.set()
    # That look reads the withdrawal's log and drops the status: the loop cannot say.
    wait_until(lambda: statuses.get(row.consent_id, cached_only=True) is NEEDS_CHAIN)
    answer = check(T0 + timedelta(days=5))
    assert (answer.granted, answer.reason) == (False, "revoked")


def test_after_a_failed_look_at_the_head_the_event_loop_defers_to_the_chain(
    consents: ConsentService, check: Check, monkeypatch: pytest.MonkeyPatch
) -> None:
    (row,) = consents.grant([make_grant()])
    statuses = consents.statuses
    assert statuses is not None
    assert check(T0 + timedelta(days=5)).granted
    statuses.max_age = 0.0
    chain = statuses.registry.chain

    def down() -> int:
        raise UnavailableError("the chain does not answer")

    monkeypatch.setattr(chain, "block_number", down)
    statuses.get(row.consent_id, cached_only=True)  # starts a look, which fails
    wait_until(lambda: statuses.get(row.consent_id, cached_only=True) is NEEDS_CHAIN)
    with pytest.raises(UnavailableError):
        check(T0 + timedelta(days=5))  # the thread's own look meets the failure
    monkeypatch.undo()
    assert check(T0 + timedelta(days=5)).granted
    statuses.max_age = 3600.0
    assert isinstance(statuses.get(row.consent_id, cached_only=True), ConsentRecord)


def test_threads_that_miss_the_cache_together_read_the_chain_once(
    consents: ConsentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    (row,) = consents.grant([make_grant()])
    assert consents.statuses is not None
    registry = consents.statuses.registry
    statuses = StatusCache(registry, threading.Lock())
    statuses.get(row.consent_id)  # the first look at the head
    statuses.clear()
    statuses.max_age = 3600.0
    statuses.get("0x" + "00" * 32)  # looked at the head again; this id is not on chain
    reads: list[bytes] = []
    real_status = registry.status
    monkeypatch.setattr(registry, "status", lambda c: reads.append(c) or real_status(c))
    start = threading.Barrier(8)
    found: list[Any] = []

    def one() -> None:
        start.wait()
        found.append(statuses.get(row.consent_id))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 8 and all(isinstance(f, ConsentRecord) for f in found)
    assert reads == [bytes.fromhex(row.consent_id[2:])]
