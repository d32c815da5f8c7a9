"""Schema v2 beside v1: v2 rows validate against the v2 code lists, each wrong code is refused
with its field and reason, and v1 rows are held to v1 exactly as before."""

from __future__ import annotations

import pytest

from ledger.records import Problem, RecordRejected, codes, validate_record
from ledger.records.schema import FIELDS_V1, FIELDS_V2, SCHEMAS
from tests.records.sample import valid_row


def v2_row(**changes: object) -> dict[str, object]:
    """The sample loan as a v2 record: its frequency as the spec's code, a monthly report."""
    row = valid_row() | {"schema_version": 2, "repayment_frequency": "03", "report_reason": "30"}
    row.update(changes)
    return row


def closed(row: dict[str, object], status: str) -> dict[str, object]:
    """``row`` settled and closed with ``status``."""
    return row | {
        "account_status": status,
        "balance": "0.00",
        "instalments_remaining": 0,
        "repayment_status": "C",
    }


def card(**changes: object) -> dict[str, object]:
    row = v2_row(account_type="R2", business_type="81", credit_limit="20000.00")
    del row["due_date"]
    row.update(changes)
    return row


def problems(row: dict[str, object]) -> list[Problem]:
    with pytest.raises(RecordRejected) as caught:
        validate_record(row)
    return caught.value.problems


def test_each_version_has_its_own_field_specs() -> None:
    assert set(SCHEMAS) == {1, 2}
    v1 = {spec.name: spec for spec in FIELDS_V1}
    v2 = {spec.name: spec for spec in FIELDS_V2}
    assert set(v2) - set(v1) == {
        "schema_version",
        "report_reason",
        "special_transactions",
        "related_parties",
    }
    assert v1["account_status"].choices == frozenset("123456")
    assert v2["account_status"].choices == frozenset(codes.LOAN_STATUSES) | frozenset(
        codes.CARD_STATUSES
    )


@pytest.mark.parametrize("status", sorted(codes.LOAN_STATUSES))
def test_every_loan_status_is_accepted(status: str) -> None:
    row = v2_row(account_status=status)
    if status == codes.LOAN_CLOSED:
        row = closed(row, status)
    assert validate_record(row)["account_status"] == status


@pytest.mark.parametrize("status", sorted(codes.CARD_STATUSES))
def test_every_card_status_is_accepted_for_r2(status: str) -> None:
    row = card(account_status=status)
    if status == codes.CARD_CLOSED:
        row = closed(row, status)
    assert validate_record(row)["account_status"] == status


@pytest.mark.parametrize("reason", sorted(codes.REPORT_REASONS))
def test_every_report_reason_is_accepted(reason: str) -> None:
    row = v2_row(report_reason=reason)
    if reason in codes.CLOSING_REASONS:
        row = closed(row, codes.LOAN_CLOSED)
    assert validate_record(row)["report_reason"] == reason


def test_a_v2_record_keeps_its_version_and_v2_fields() -> None:
    row = v2_row(
        schema_version="2",
        special_transactions=[
            {"type": "1", "date": "2025-03-10", "amount": "61000", "months": "6"}
        ],
        related_parties=[{"role": "2", "kind": "1", "amount": "100000"}],
    )
    record = validate_record(row)
    assert record["schema_version"] == 2
    assert record["special_transactions"] == [
        {"type": "1", "date": "2025-03-10", "amount": "61000.00", "months": 6}
    ]
    assert record["related_parties"] == [{"role": "2", "kind": "1", "amount": "100000.00"}]


LOAN_LIST = "must be one of the loan statuses 1-8 for account_type D1, R1, R4"
CARD_LIST = "must be one of the card statuses 1, 2, 3, 31, 4, 5, 6, 8 for account_type R2"
WRONG = [
    (v2_row(account_status="9"), "account_status", "must be one of 1, 2, 3, 31, 4, 5, 6, 7, 8"),
    (v2_row(account_status="31"), "account_status", LOAN_LIST),
    (card(account_status="7"), "account_status", CARD_LIST),
    (card(account_status="3", balance="0.00"), "account_status", None),  # 3 stops a card: valid
    (
        v2_row(report_reason="50"),
        "report_reason",
        "must be one of 10, 20, 30, 31, 32, 40",
    ),
    (
        v2_row(report_reason="20"),
        "report_reason",
        "20 and 32 (account closed) need a closed account_status (3; 4 for R2)",
    ),
    (
        card(report_reason="32", account_status="3", balance="0.00"),
        "report_reason",
        "20 and 32 (account closed) need a closed account_status (3; 4 for R2)",
    ),
    (
        closed(card(), "4") | {"balance": "5.00"},
        "account_status",
        "closed (4, 销户) needs balance 0 and overdue_amount 0",
    ),
    (
        v2_row(repayment_frequency="M"),
        "repayment_frequency",
        "must be one of 01, 02, 03, 04, 05, 06, 07, 08, 12, 13, 14, 99",
    ),
    (v2_row(repayment_status="NNB"), "repayment_status", None),
    (
        v2_row(
            special_transactions=[{"type": "6", "date": "2025-03-10", "amount": "1", "months": 0}]
        ),
        "special_transactions",
        "entry 1: type must be one of 1, 11, 12, 13, 14, 15, 16, 17, 2, 3, 4, 5, 8",
    ),
    (
        v2_row(special_transactions=[{"type": "1", "date": "2025-03-10", "amount": "1"}]),
        "special_transactions",
        "entry 1 must have exactly type, date, amount, months",
    ),
    (
        v2_row(related_parties=[{"role": "3", "kind": "1", "amount": "1"}]),
        "related_parties",
        "entry 1: role must be one of 1, 2, 9",
    ),
    (
        v2_row(related_parties=[{"role": "1", "kind": "7", "amount": "1"}]),
        "related_parties",
        "entry 1: kind must be one of 1, 2",
    ),
    (v2_row(schema_version=3), "schema_version", "must be one of 1, 2"),
    (v2_row(schema_version="v2"), "schema_version", "must be one of 1, 2"),
    (
        valid_row() | {"report_reason": "30"},
        "report_reason",
        "not a field of schema_version 1",
    ),
    (valid_row() | {"account_status": "7"}, "account_status", "must be one of 1, 2, 3, 4, 5, 6"),
    (valid_row() | {"repayment_frequency": "03"}, "repayment_frequency", None),
]


@pytest.mark.parametrize(("row", "field", "reason"), WRONG)
def test_each_wrong_code_is_refused_with_its_field_and_reason(
    row: dict[str, object], field: str, reason: str | None
) -> None:
    if field == "account_status" and reason is None:
        validate_record(row)  # the control: a card may be stopped (3) with money owed
        return
    found = problems(row)
    assert [p.field for p in found] == [field]
    if reason is not None:
        assert found[0].reason == reason


def test_a_v2_record_needs_its_report_reason() -> None:
    row = v2_row()
    del row["report_reason"]
    assert problems(row) == [Problem("report_reason", "required field is missing")]
