"""Cross-field rules, refused fields, normalisation, and reasons that never quote a value."""

from __future__ import annotations

import pytest

from ledger.records import PERSONAL_FIELDS, Problem, RecordRejected, validate_record
from tests.records.sample import ACCOUNT, ID_NUMBER, MOBILE, NAME, ORG, overdue_row, revolving_row
from tests.records.sample import valid_row as d1_row
from tests.records.test_validate_fields import WRONG_CHECK, only_problem, problems_of

RULE_CASES = [
    ("report before period", d1_row, {"report_date": "2025-02-28", "last_payment_date": None},
     Problem("report_date", "must not be before the first day of period")),
    ("opened after report", d1_row, {"open_date": "2025-04-03", "due_date": "2027-01-15",
                                     "last_payment_date": None},
     Problem("open_date", "must not be after report_date")),
    ("due before open", d1_row, {"due_date": "2024-01-14"},
     Problem("due_date", "must not be before open_date")),
    ("paid before open", d1_row, {"last_payment_date": "2024-01-14"},
     Problem("last_payment_date", "must be between open_date and report_date")),
    ("paid after report", d1_row, {"last_payment_date": "2025-04-03"},
     Problem("last_payment_date", "must be between open_date and report_date")),
    ("D1 without due date", d1_row, {"due_date": None},
     Problem("due_date", "required for account_type D1")),
    ("revolving without limit", revolving_row, {"credit_limit": None},
     Problem("credit_limit", "required for account_type R1, R2, R4")),
    ("D1 balance over principal", d1_row, {"balance": "100000.01"},
     Problem("balance", "must not exceed principal for account_type D1")),
    ("remaining over total", d1_row, {"instalments_remaining": 37},
     Problem("instalments_remaining", "must not exceed instalments_total")),
    ("overdue without days", overdue_row, {"days_past_due": 0},
     Problem("days_past_due", "must be > 0 when overdue_amount > 0")),
    ("days without overdue", d1_row, {"days_past_due": 3},
     Problem("overdue_amount", "must be > 0 when days_past_due > 0")),
    ("overdue instalments without amount", d1_row, {"overdue_instalments": 1},
     Problem("overdue_instalments", "must be 0 when overdue_amount is 0")),
    ("buckets over overdue", overdue_row, {"overdue_principal_91_180": "2200.01"},
     Problem("overdue_amount", "must be >= the sum of the overdue_principal_* buckets")),
    ("bucket while current", d1_row, {"overdue_principal_180_plus": "0.01"},
     Problem("overdue_amount", "must be >= the sum of the overdue_principal_* buckets")),
    ("closed with balance", d1_row, {"account_status": "3"},
     Problem("account_status", "closed (3) needs balance 0 and overdue_amount 0")),
    ("closed while overdue", overdue_row, {"account_status": "3", "balance": "0"},
     Problem("account_status", "closed (3) needs balance 0 and overdue_amount 0")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "change", "expected"),
    [case[1:] for case in RULE_CASES],
    ids=[case[0] for case in RULE_CASES],
)
def test_cross_field_rule(make: object, change: dict[str, object], expected: Problem) -> None:
    row = make()  # type: ignore[operator]
    row.update(change)
    assert only_problem(row) == expected


def test_rules_hold_at_their_boundaries() -> None:
    row = overdue_row()
    row.update(overdue_principal_61_90="2200.00", report_date="2025-03-01", last_payment_date=None)
    row.update(balance="100000.00", instalments_remaining=36)
    validate_record(row)  # sums equal, report on the first day, balance == principal
    closed = d1_row()
    closed.update(account_status="3", balance="0", instalments_remaining=0)
    assert validate_record(closed)["balance"] == "0.00"


def test_a_bad_input_field_does_not_cascade_into_rule_problems() -> None:
    row = overdue_row()
    row["overdue_amount"] = 6200.0  # a float: its rules are skipped, one problem only
    assert only_problem(row).field == "overdue_amount"


@pytest.mark.parametrize(
    "name",
    ["password", "PASSWD", "pin", "CVV2", "cvn", "cvc", "card-security-code", "biometric",
     "Fingerprint", "face_image", "iris", "voiceprint", "track_data", "login_password",
     "交易密码"],
)  # fmt: skip
def test_c3_fields_are_refused(name: str) -> None:
    row = d1_row()
    row[name] = "123456"
    problem = only_problem(row)
    assert "C3 data is refused" in problem.reason
    assert problem.field in (name, "<field #30>")


def test_unknown_fields_are_refused_and_odd_names_not_echoed() -> None:
    row = d1_row()
    row["loan_purpose"] = "消费"
    row[ID_NUMBER] = "x"  # a header that is itself an ID number
    found = problems_of(row)
    assert Problem("<field #30>", "unknown field") in found  # unknown names are never echoed
    assert Problem("<field #31>", "unknown field") in found
    assert "loan_purpose" not in str(found)
    assert ID_NUMBER not in str(found)


def test_values_are_normalised() -> None:
    row = revolving_row()
    row.update(
        principal="050000.5",
        credit_limit=" 50000 ",
        subject_mobile="+86 138-1234-5678",
        reporter_org_code=ORG.lower(),
        currency=None,
        instalments_total="0",
        repayment_status=" NN1 ",
        subject_name=" 张三丰 ",
        account_id=" LN-1 ",
    )
    record = validate_record(row)
    assert record["principal"] == "50000.50"
    assert record["credit_limit"] == "50000.00"
    assert record["subject_mobile"] == MOBILE
    assert record["reporter_org_code"] == ORG
    assert record["currency"] == "CNY"
    assert record["instalments_total"] == 0
    assert record["repayment_status"] == "NN1"
    assert record["subject_name"] == NAME
    assert record["account_id"] == "LN-1"
    row.update(currency="usd", subject_mobile="8613812345678")
    assert validate_record(row)["currency"] == "USD"
    assert validate_record(row)["subject_mobile"] == MOBILE


def test_normalised_record_holds_json_types_only() -> None:
    row = d1_row()
    row["funders"] = [{"org_code": ORG, "share_bp": "10000"}]
    row["consent_ids"] = ["c-1", "c_2"]
    record = validate_record(row)
    assert record["funders"] == [{"org_code": ORG, "share_bp": 10000}]
    assert record["consent_ids"] == ["c-1", "c_2"]
    assert all(type(v) in (str, int, list) for v in record.values())
    assert validate_record(record) == record  # idempotent


CANARY_CASES = [
    ("subject_name", NAME + "7"),
    ("subject_id_number", WRONG_CHECK),
    ("subject_id_number", ID_NUMBER[:17]),
    ("subject_mobile", MOBILE[:-1] + "A"),
    ("subject_mobile", 13812345678),
    ("account_id", ACCOUNT + "\x00"),
    ("account_id", ["LN", ACCOUNT]),
]


@pytest.mark.parametrize(("field", "value"), CANARY_CASES)
def test_reasons_never_contain_the_personal_value(field: str, value: object) -> None:
    assert field in PERSONAL_FIELDS
    row = d1_row()
    row[field] = value
    with pytest.raises(RecordRejected) as caught:
        validate_record(row)
    text = f"{caught.value} {caught.value.diagnostics()} {caught.value.problems!r}"
    for secret in (str(value), ID_NUMBER, NAME, MOBILE, ACCOUNT, str(value)[:11]):
        assert secret not in text


def test_a_wrong_resident_id_with_another_valid_id_elsewhere_is_not_quoted() -> None:
    row = d1_row()
    row.update(subject_id_number=WRONG_CHECK, report_id=WRONG_CHECK[:12])
    found = problems_of(row)
    assert found == [Problem("subject_id_number", "resident ID check digit is wrong (GB 11643)")]
