"""ConsentRegistry: record (one and batch), idempotent retries, revoke, validity windows, roles.

Every revert is pinned to its exact custom error and arguments, every state change to its
exact event and arguments; a no-op emits nothing and a revert records nothing. Each test runs
on the embedded chain and on a real anvil node.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.chain import Chain, Deployment
from ledger.chain.artifacts import load_artifact
from ledger.chain.errors import (
    AccessControlUnauthorizedAccount,
    ConsentAlreadyRecorded,
    EmptyBatch,
    InvalidValidity,
    LengthMismatch,
    TimestampOutOfRange,
    UnknownConsent,
    ZeroAdmin,
    ZeroCommitment,
    ZeroConsentId,
    ZeroRevocationTime,
)
from ledger.chain.registry import ConsentRecord, ConsentRegistryClient
from tests.contracts.helpers import (
    DEFAULT_ADMIN_ROLE,
    ZERO32,
    ZERO_ADDRESS,
    assert_reverts,
    b32,
    block_of,
    decoded,
    funded_signer,
    only_event,
)

RECORDER_ROLE = keccak(text="RECORDER_ROLE")
#: Times are stored as uint40: 2**40 is the first value that does not fit.
TIME_LIMIT = 2**40
EMPTY_STATUS = (ZERO32, 0, 0, 0, 0, 0)
FROM, UNTIL = 1_700_000_000, 1_800_000_000


def status(chain: Chain, registry: Contract, consent_id: bytes) -> tuple[Any, ...]:
    """``consentStatus``: (commitment, validFrom, validUntil, revokedAt, recordedAt, block)."""
    return tuple(chain.call(registry.functions.consentStatus(consent_id)))


def record(
    chain: Chain,
    registry: Contract,
    consent_id: bytes,
    commitment: bytes,
    valid_from: int = FROM,
    valid_until: int = UNTIL,
) -> TxReceipt:
    fn = registry.functions.recordConsent(consent_id, commitment, valid_from, valid_until)
    return chain.transact(fn)


def record_many(
    chain: Chain, registry: Contract, items: list[tuple[bytes, bytes, int, int]]
) -> TxReceipt:
    ids, commitments, froms, untils = ([item[k] for item in items] for k in range(4))
    return chain.transact(registry.functions.recordConsents(ids, commitments, froms, untils))


def valid_at(chain: Chain, registry: Contract, consent_id: bytes, at: int) -> bool:
    return bool(chain.call(registry.functions.isValidAt(consent_id, at)))


# -- constructor and role ------------------------------------------------------------------


def test_constructor_makes_admin_the_only_role_holder(any_chain: Chain) -> None:
    admin = Account.create().address
    address, receipt = any_chain.deploy(load_artifact("ConsentRegistry"), admin)
    registry = any_chain.contract("ConsentRegistry", address)
    assert only_event(registry, receipt, "RoleGranted") == {
        "role": DEFAULT_ADMIN_ROLE,
        "account": admin,
        "sender": any_chain.address,
    }
    fns = registry.functions
    assert any_chain.call(fns.hasRole(DEFAULT_ADMIN_ROLE, admin))
    assert not any_chain.call(fns.hasRole(RECORDER_ROLE, admin))
    assert not any_chain.call(fns.hasRole(DEFAULT_ADMIN_ROLE, any_chain.address))
    assert any_chain.call(fns.getRoleAdmin(RECORDER_ROLE)) == DEFAULT_ADMIN_ROLE
    assert any_chain.call(fns.RECORDER_ROLE()) == RECORDER_ROLE == keccak(b"RECORDER_ROLE")
    assert any_chain.call(fns.DEFAULT_ADMIN_ROLE()) == DEFAULT_ADMIN_ROLE
    assert any_chain.call(fns.supportsInterface(bytes.fromhex("7965db0b")))  # IAccessControl


def test_constructor_rejects_the_zero_admin(any_chain: Chain) -> None:
    assert_reverts(ZeroAdmin, {}, any_chain.deploy, load_artifact("ConsentRegistry"), ZERO_ADDRESS)


def test_the_registry_cannot_be_paused() -> None:
    names = {e.get("name") for e in load_artifact("ConsentRegistry").abi}
    assert not names & {"pause", "unpause", "paused", "Paused", "EnforcedPause"}


def test_recording_and_revoking_need_the_recorder_role(
    chain: Chain, consent_registry: Contract
) -> None:
    stranger = funded_signer(chain)
    fns = consent_registry.functions
    unauthorized = {"account": stranger.address.lower(), "neededRole": RECORDER_ROLE}
    consent_id, commitment = b32("c/id"), b32("c/commitment")
    for fn in (
        fns.recordConsent(consent_id, commitment, FROM, UNTIL),
        fns.recordConsents([consent_id], [commitment], [FROM], [UNTIL]),
        fns.recordConsents([], [], [], []),  # the role is checked before the arrays
    ):
        assert_reverts(AccessControlUnauthorizedAccount, unauthorized, stranger.transact, fn)
    assert status(chain, consent_registry, consent_id) == EMPTY_STATUS

    record(chain, consent_registry, consent_id, commitment)
    assert_reverts(
        AccessControlUnauthorizedAccount,
        unauthorized,
        stranger.transact,
        fns.revokeConsent(consent_id, FROM + 5),
    )
    assert status(chain, consent_registry, consent_id)[3] == 0

    receipt = chain.transact(fns.grantRole(RECORDER_ROLE, stranger.address))
    assert only_event(consent_registry, receipt, "RoleGranted") == {
        "role": RECORDER_ROLE,
        "account": stranger.address,
        "sender": chain.address,
    }
    receipt = stranger.transact(fns.revokeConsent(consent_id, FROM + 5))
    assert only_event(consent_registry, receipt, "ConsentRevoked") == {
        "consentId": consent_id,
        "revokedAt": FROM + 5,
        "recorder": stranger.address,
    }


# -- recordConsent ---------------------------------------------------------------------------


def test_record_stores_the_consent_and_emits_every_argument(
    deployed: tuple[Chain, Deployment], consent_registry: Contract
) -> None:
    chain, deployment = deployed
    consent_id, commitment = b32("r/id"), b32("r/commitment")
    receipt = record(chain, consent_registry, consent_id, commitment, FROM, UNTIL)
    number, timestamp = block_of(chain, receipt)
    assert only_event(consent_registry, receipt, "ConsentRecorded") == {
        "consentId": consent_id,
        "commitment": commitment,
        "validFrom": FROM,
        "validUntil": UNTIL,
        "recorder": chain.address,
    }
    assert status(chain, consent_registry, consent_id) == (
        commitment,
        FROM,
        UNTIL,
        0,
        timestamp,
        number,
    )
    client = ConsentRegistryClient.from_deployment(chain, deployment)
    assert client.status(consent_id) == ConsentRecord(commitment, FROM, UNTIL, 0, timestamp, number)
    assert client.status(b32("unknown")) is None
    assert status(chain, consent_registry, b32("unknown")) == EMPTY_STATUS


def test_an_identical_record_is_a_silent_no_op(chain: Chain, consent_registry: Contract) -> None:
    consent_id, commitment = b32("i/id"), b32("i/commitment")
    record(chain, consent_registry, consent_id, commitment)
    first = status(chain, consent_registry, consent_id)
    receipt = record(chain, consent_registry, consent_id, commitment)
    assert receipt["status"] == 1 and receipt["logs"] == []
    assert receipt["blockNumber"] > first[5]
    assert status(chain, consent_registry, consent_id) == first
    # A revoked consent stays revoked when a crashed client retries the record.
    chain.transact(consent_registry.functions.revokeConsent(consent_id, FROM + 1))
    receipt = record(chain, consent_registry, consent_id, commitment)
    assert receipt["status"] == 1 and receipt["logs"] == []
    assert status(chain, consent_registry, consent_id) == (*first[:3], FROM + 1, *first[4:])


def test_a_different_record_for_a_known_id_is_rejected(
    chain: Chain, consent_registry: Contract
) -> None:
    consent_id, commitment = b32("d/id"), b32("d/commitment")
    record(chain, consent_registry, consent_id, commitment, FROM, UNTIL)
    first = status(chain, consent_registry, consent_id)
    for other in (
        (b32("d/other"), FROM, UNTIL),
        (commitment, FROM + 1, UNTIL),
        (commitment, FROM, UNTIL + 1),
        (commitment, FROM, 0),
    ):
        assert_reverts(
            ConsentAlreadyRecorded,
            {"consentId": consent_id},
            record,
            chain,
            consent_registry,
            consent_id,
            *other,
        )
    assert status(chain, consent_registry, consent_id) == first


def test_record_rejects_zero_ids_and_commitments(chain: Chain, consent_registry: Contract) -> None:
    assert_reverts(ZeroConsentId, {}, record, chain, consent_registry, ZERO32, b32("z/c"))
    assert_reverts(ZeroCommitment, {}, record, chain, consent_registry, b32("z/id"), ZERO32)
    assert status(chain, consent_registry, ZERO32) == EMPTY_STATUS
    assert status(chain, consent_registry, b32("z/id")) == EMPTY_STATUS


def test_record_rejects_an_empty_validity_window(chain: Chain, consent_registry: Contract) -> None:
    for valid_from, valid_until in (
        (FROM, FROM),
        (FROM, FROM - 1),
        (TIME_LIMIT - 1, TIME_LIMIT - 1),
        (FROM, 1),
    ):
        assert_reverts(
            InvalidValidity,
            {"validFrom": valid_from, "validUntil": valid_until},
            record,
            chain,
            consent_registry,
            b32(f"w/{valid_from}/{valid_until}"),
            b32("w/c"),
            valid_from,
            valid_until,
        )
        assert status(chain, consent_registry, b32(f"w/{valid_from}/{valid_until}")) == (
            EMPTY_STATUS
        )
    # One second is the shortest window; 0 means open-ended, from any start.
    for valid_from, valid_until in ((FROM, FROM + 1), (FROM, 0), (0, 0), (TIME_LIMIT - 1, 0)):
        consent_id = b32(f"ok/{valid_from}/{valid_until}")
        record(chain, consent_registry, consent_id, b32("w/c"), valid_from, valid_until)
        assert status(chain, consent_registry, consent_id)[1:4] == (valid_from, valid_until, 0)


def test_times_must_fit_in_40_bits(chain: Chain, consent_registry: Contract) -> None:
    fns = consent_registry.functions
    for valid_from, valid_until, rejected in (
        (TIME_LIMIT, 0, TIME_LIMIT),
        (2**64 - 1, 0, 2**64 - 1),
        (FROM, TIME_LIMIT, TIME_LIMIT),
        (TIME_LIMIT, TIME_LIMIT + 1, TIME_LIMIT),
    ):
        assert_reverts(
            TimestampOutOfRange,
            {"timestamp": rejected},
            record,
            chain,
            consent_registry,
            b32("t/id"),
            b32("t/c"),
            valid_from,
            valid_until,
        )
    assert status(chain, consent_registry, b32("t/id")) == EMPTY_STATUS
    record(chain, consent_registry, b32("t/id"), b32("t/c"), TIME_LIMIT - 2, TIME_LIMIT - 1)
    assert status(chain, consent_registry, b32("t/id"))[1:3] == (TIME_LIMIT - 2, TIME_LIMIT - 1)
    for revoked_at in (TIME_LIMIT, 2**64 - 1):
        assert_reverts(
            TimestampOutOfRange,
            {"timestamp": revoked_at},
            chain.transact,
            fns.revokeConsent(b32("t/id"), revoked_at),
        )
    chain.transact(fns.revokeConsent(b32("t/id"), TIME_LIMIT - 1))
    assert status(chain, consent_registry, b32("t/id"))[3] == TIME_LIMIT - 1


# -- recordConsents ----------------------------------------------------------------------------


def test_a_batch_records_every_item_and_emits_in_order(
    chain: Chain, consent_registry: Contract
) -> None:
    record(chain, consent_registry, b32("old/id"), b32("old/c"))
    items = [
        (b32("b0/id"), b32("b0/c"), FROM, UNTIL),
        (b32("old/id"), b32("old/c"), FROM, UNTIL),  # an identical retry: no event
        (b32("b2/id"), b32("b2/c"), 0, 0),
        (b32("b3/id"), b32("b3/c"), FROM + 3, FROM + 4),
        (b32("b0/id"), b32("b0/c"), FROM, UNTIL),  # repeated within the batch: no event
    ]
    receipt = record_many(chain, consent_registry, items)
    number, timestamp = block_of(chain, receipt)
    new = [items[0], items[2], items[3]]
    assert decoded(consent_registry, receipt, "ConsentRecorded") == [
        {
            "consentId": consent_id,
            "commitment": commitment,
            "validFrom": valid_from,
            "validUntil": valid_until,
            "recorder": chain.address,
        }
        for consent_id, commitment, valid_from, valid_until in new
    ]
    for consent_id, commitment, valid_from, valid_until in new:
        assert status(chain, consent_registry, consent_id) == (
            commitment,
            valid_from,
            valid_until,
            0,
            timestamp,
            number,
        )
    assert status(chain, consent_registry, b32("old/id"))[5] < number


def test_a_batch_with_one_bad_item_records_nothing(
    chain: Chain, consent_registry: Contract
) -> None:
    record(chain, consent_registry, b32("old/id"), b32("old/c"))
    good = [(b32("g0/id"), b32("g0/c"), FROM, UNTIL), (b32("g1/id"), b32("g1/c"), FROM, 0)]
    for bad, error, values in (
        ((b32("x/id"), ZERO32, FROM, UNTIL), ZeroCommitment, {}),
        ((ZERO32, b32("x/c"), FROM, UNTIL), ZeroConsentId, {}),
        (
            (b32("x/id"), b32("x/c"), UNTIL, FROM),
            InvalidValidity,
            {"validFrom": UNTIL, "validUntil": FROM},
        ),
        ((b32("x/id"), b32("x/c"), TIME_LIMIT, 0), TimestampOutOfRange, {"timestamp": TIME_LIMIT}),
        (
            (b32("old/id"), b32("x/c"), FROM, UNTIL),
            ConsentAlreadyRecorded,
            {"consentId": b32("old/id")},
        ),
        # The same id twice with different commitments within one batch.
        (
            (b32("g0/id"), b32("x/c"), FROM, UNTIL),
            ConsentAlreadyRecorded,
            {"consentId": b32("g0/id")},
        ),
    ):
        assert_reverts(error, values, record_many, chain, consent_registry, [*good, bad])
        for consent_id, *_ in good:
            assert status(chain, consent_registry, consent_id) == EMPTY_STATUS


def test_a_batch_needs_equal_non_empty_arrays(chain: Chain, consent_registry: Contract) -> None:
    fn = consent_registry.functions.recordConsents
    ids, commitments, froms, untils = [b32("l/id")], [b32("l/c")], [FROM], [UNTIL]
    for args in (
        (ids, commitments * 2, froms, untils),
        (ids, commitments, [], untils),
        (ids, commitments, froms, untils * 2),
        (ids * 2, commitments, froms, untils),
        ([], commitments, froms, untils),
    ):
        assert_reverts(LengthMismatch, {}, chain.transact, fn(*args))
    assert_reverts(EmptyBatch, {}, chain.transact, fn([], [], [], []))
    assert status(chain, consent_registry, b32("l/id")) == EMPTY_STATUS


# -- revokeConsent ------------------------------------------------------------------------------


def test_revoke_records_the_first_withdrawal_only(chain: Chain, consent_registry: Contract) -> None:
    fns = consent_registry.functions
    consent_id = b32("v/id")
    record(chain, consent_registry, consent_id, b32("v/c"))
    recorded = status(chain, consent_registry, consent_id)
    receipt = chain.transact(fns.revokeConsent(consent_id, FROM + 10))
    assert only_event(consent_registry, receipt, "ConsentRevoked") == {
        "consentId": consent_id,
        "revokedAt": FROM + 10,
        "recorder": chain.address,
    }
    revoked = (*recorded[:3], FROM + 10, *recorded[4:])
    assert status(chain, consent_registry, consent_id) == revoked
    for again in (FROM + 5, FROM + 10, FROM + 20):
        receipt = chain.transact(fns.revokeConsent(consent_id, again))
        assert receipt["status"] == 1 and receipt["logs"] == []
        assert status(chain, consent_registry, consent_id) == revoked


def test_revoke_rejects_unknown_ids_and_a_zero_time(
    chain: Chain, consent_registry: Contract
) -> None:
    fns = consent_registry.functions
    unknown = b32("unknown")
    assert_reverts(
        UnknownConsent, {"consentId": unknown}, chain.transact, fns.revokeConsent(unknown, FROM)
    )
    assert_reverts(
        UnknownConsent, {"consentId": ZERO32}, chain.transact, fns.revokeConsent(ZERO32, FROM)
    )
    assert status(chain, consent_registry, unknown) == EMPTY_STATUS
    record(chain, consent_registry, b32("k/id"), b32("k/c"))
    assert_reverts(ZeroRevocationTime, {}, chain.transact, fns.revokeConsent(b32("k/id"), 0))
    assert status(chain, consent_registry, b32("k/id"))[3] == 0
    assert_reverts(ZeroRevocationTime, {}, chain.transact, fns.revokeConsent(unknown, 0))


# -- isValidAt ----------------------------------------------------------------------------------


def test_is_valid_at_the_exact_boundaries(chain: Chain, consent_registry: Contract) -> None:
    consent_id = b32("window/id")
    record(chain, consent_registry, consent_id, b32("window/c"), 1000, 2000)
    expected = {0: False, 999: False, 1000: True, 1500: True, 1999: True, 2000: False}
    expected |= {2**64 - 1: False}
    assert {t: valid_at(chain, consent_registry, consent_id, t) for t in expected} == expected
    chain.transact(consent_registry.functions.revokeConsent(consent_id, 1500))
    expected = {999: False, 1000: True, 1499: True, 1500: False, 1999: False, 2000: False}
    assert {t: valid_at(chain, consent_registry, consent_id, t) for t in expected} == expected


def test_is_valid_at_open_ended_revoked_and_unknown(
    chain: Chain, consent_registry: Contract
) -> None:
    fns = consent_registry.functions
    open_ended, early = b32("open/id"), b32("early/id")
    record(chain, consent_registry, open_ended, b32("open/c"), 1000, 0)
    expected = {999: False, 1000: True, TIME_LIMIT: True, 2**64 - 1: True}
    assert {t: valid_at(chain, consent_registry, open_ended, t) for t in expected} == expected
    chain.transact(fns.revokeConsent(open_ended, 5000))
    expected = {1000: True, 4999: True, 5000: False, 2**64 - 1: False}
    assert {t: valid_at(chain, consent_registry, open_ended, t) for t in expected} == expected
    # Withdrawn before it ever started: never valid.
    record(chain, consent_registry, early, b32("early/c"), 1000, 2000)
    chain.transact(fns.revokeConsent(early, 1000))
    assert not any(valid_at(chain, consent_registry, early, t) for t in (999, 1000, 1500))
    for unknown in (b32("unknown"), ZERO32):
        assert not any(valid_at(chain, consent_registry, unknown, t) for t in (0, FROM, 2**64 - 1))
