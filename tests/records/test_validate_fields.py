"""Per-field rules: each case breaks exactly one field of a valid row and pins field + reason."""

from __future__ import annotations

import pytest

from ledger.errors import InputError
from ledger.records import Problem, RecordRejected, validate_record
from ledger.records.identifiers import gb11643_check_digit
from ledger.records.schema import FIELDS_V1
from tests.records.sample import ID_BODY, ID_NUMBER, ORG, ORG2, valid_row

DECIMAL_REASON = "must be a decimal string such as 1234.50"
REQUIRED = [spec.name for spec in FIELDS_V1 if spec.required]  # a v1 record's


def problems_of(row: dict[str, object]) -> list[Problem]:
    with pytest.raises(RecordRejected) as caught:
        validate_record(row)
    return caught.value.problems


def only_problem(row: dict[str, object]) -> Problem:
    found = problems_of(row)
    assert len(found) == 1, found
    return found[0]


def resident_id(body: str) -> str:
    return body + gb11643_check_digit(body)


WRONG_CHECK = ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")

FIELD_CASES = [
    ("report_id", "RPT 0001", "must be 1-64 letters, digits, '_' or '-'"),
    ("report_id", "R" * 65, "must be 1-64 letters, digits, '_' or '-'"),
    ("reporter_org_code", ORG[:-1] + "A", "is not a valid Unified Social Credit Code"),
    ("reporter_org_code", ORG[:-2], "must be an 18-character Unified Social Credit Code"),
    ("period", "2025-13", "must be a month YYYY-MM"),
    ("period", "2025/03", "must be a month YYYY-MM"),
    ("report_date", "2025-02-30", "is not a calendar date"),
    ("report_date", "20250402", "must be a date YYYY-MM-DD"),
    ("subject_name", "张3", "must be 1-64 letters (spaces and '·' allowed), without digits"),
    ("subject_name", "王" * 65, "must be 1-64 letters (spaces and '·' allowed), without digits"),
    ("subject_id_type", "3", "must be one of 10, 2, 5, 6, 8, X"),
    ("subject_id_number", WRONG_CHECK, "resident ID check digit is wrong (GB 11643)"),
    ("subject_id_number", ID_NUMBER[:17], "resident ID number must be 18 characters"),
    ("subject_id_number", resident_id("11010119900230001"), "birth date in resident ID number"),
    ("subject_id_number", resident_id("11010121990307001"), "is in the future"),
    ("subject_id_number", resident_id("99010119900307001"), "region code in resident ID number"),
    ("subject_id_number", resident_id("11010120250501001"), "is after report_date"),
    ("subject_id_number", "A1-2", "must be 5-32 letters or digits"),
    ("subject_mobile", "12812345678", "must be a mainland mobile number"),
    ("subject_mobile", "1381234567", "must be a mainland mobile number"),
    ("account_id", "A" * 65, "must be 1-64 characters, no control characters"),
    ("account_id", "LN\x07001", "must be 1-64 characters, no control characters"),
    ("account_id", "  ", "must be 1-64 characters, no control characters"),
    ("account_type", "D2", "must be one of D1, R1, R2, R4"),
    ("five_class", 1, "must be one of 1, 2, 3, 4, 5, 9 (as a string)"),
    ("business_type", "1a", "must be 1-4 digits or A-Z"),
    ("open_date", "2024-1-15", "must be a date YYYY-MM-DD"),
    ("due_date", "2027-02-29", "is not a calendar date"),
    ("currency", "XYZ", "must be an ISO 4217 currency code"),
    ("principal", 100000.0, "amounts must be decimal strings"),
    ("principal", 100000, "amounts must be decimal strings"),
    ("principal", "1e5", "amounts must not use an exponent"),
    ("principal", "-5.00", "amounts must not have a sign"),
    ("principal", "+5.00", "amounts must not have a sign"),
    ("principal", "1.234", "amounts have at most 2 fraction digits"),
    ("principal", "1000000000.00", "amount exceeds the maximum 999999999.99"),
    ("principal", "1,000.00", DECIMAL_REASON),
    ("principal", "5.", DECIMAL_REASON),
    ("credit_limit", "abc", DECIMAL_REASON),
    ("guarantee_type", "8", "must be one of 1, 2, 3, 4, 5, 6, 7, 9"),
    ("repayment_frequency", "Z", "must be one of D, H, M, O, Q, W, X, Y"),
    ("instalments_total", -1, "must be >= 0"),
    ("instalments_total", "1.5", "must be a whole number (JSON integer or digit string)"),
    ("instalments_total", 36.0, "must be a whole number (JSON integer or digit string)"),
    ("instalments_total", True, "must be a whole number (JSON integer or digit string)"),
    ("instalments_total", "1" * 12, "must be at most 999999999"),
    ("amount_due", 3100.5, "amounts must be decimal strings"),
    ("amount_paid", "3100.001", "amounts have at most 2 fraction digits"),
    ("last_payment_date", "2025-3-15", "must be a date YYYY-MM-DD"),
    ("balance", "-1.00", "amounts must not have a sign"),
    ("overdue_instalments", "x", "must be a whole number (JSON integer or digit string)"),
    ("overdue_amount", "0.001", "amounts have at most 2 fraction digits"),
    ("overdue_principal_61_90", "1e3", "amounts must not use an exponent"),
    ("days_past_due", "-3", "must be a whole number (JSON integer or digit string)"),
    ("five_class", "6", "must be one of 1, 2, 3, 4, 5, 9"),
    ("account_status", "7", "must be one of 1, 2, 3, 4, 5, 6"),
    ("repayment_status", "NNA", "must be 1-24 monthly status codes"),
    ("repayment_status", "N" * 25, "must be 1-24 monthly status codes"),
    ("consent_ids", ["ok", "not ok"], "entries must be strings of 1-64 letters"),
    ("consent_ids", "c1|c2", "must be a non-empty list"),
    ("funders", {"org_code": ORG}, "must be a non-empty list"),
    ("funders", [{"org_code": ORG}], "entry 1 must have exactly org_code and share_bp"),
    ("funders", [{"org_code": ORG[:-1] + "A", "share_bp": 10000}], "entry 1: is not a valid"),
    ("funders", [{"org_code": ORG, "share_bp": 0}, {"org_code": ORG2, "share_bp": 10000}],
     "entry 1: share_bp must be 1-10000"),
    ("funders", [{"org_code": ORG, "share_bp": 6000}, {"org_code": ORG2, "share_bp": 3999}],
     "funder shares must sum to 10000 basis points"),
    ("funders", [{"org_code": ORG, "share_bp": 5000}, {"org_code": ORG, "share_bp": 5000}],
     "funder org codes must be unique"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "reason"), FIELD_CASES)
def test_one_bad_field_gives_one_problem(field: str, value: object, reason: str) -> None:
    row = valid_row()
    row[field] = value
    problem = only_problem(row)
    assert problem.field == field
    assert reason in problem.reason


@pytest.mark.parametrize("field", REQUIRED)
def test_missing_required_field(field: str) -> None:
    row = valid_row()
    del row[field]
    assert only_problem(row) == Problem(field, "required field is missing")


@pytest.mark.parametrize("absent", [None, "", []])
def test_none_empty_string_and_empty_list_mean_absent(absent: object) -> None:
    row = valid_row()
    row.update(subject_mobile=absent, consent_ids=absent, last_payment_date=absent)
    record = validate_record(row)
    assert not {"subject_mobile", "consent_ids", "last_payment_date"} & record.keys()
    row["principal"] = absent
    assert only_problem(row) == Problem("principal", "required field is missing")


def test_every_problem_of_a_row_is_reported_in_schema_order() -> None:
    row = valid_row()
    row.update(period="2025-13", principal=1.5, five_class="0", colour="red")
    del row["report_id"]
    fields = [p.field for p in problems_of(row)]
    assert fields == ["report_id", "period", "principal", "five_class", f"<field #{len(row)}>"]


def test_rejection_is_an_input_error_with_a_readable_message() -> None:
    row = valid_row()
    row["principal"] = 1.5
    with pytest.raises(InputError, match="principal: amounts must be decimal strings"):
        validate_record(row)
    with pytest.raises(ValueError, match="1 problem"):
        validate_record(row)


def test_resident_id_is_checked_only_for_type_10() -> None:
    row = valid_row()
    row.update(subject_id_type="2", subject_id_number="E12345678")
    assert validate_record(row)["subject_id_number"] == "E12345678"
    row["subject_id_number"] = WRONG_CHECK  # any 5-32 alphanumerics for a passport
    validate_record(row)


def test_lower_case_x_check_digit_is_normalised() -> None:
    body = next(b for n in range(1000) if gb11643_check_digit(b := f"{ID_BODY[:14]}{n:03d}") == "X")
    row = valid_row()
    row["subject_id_number"] = f"  {body}x "
    assert validate_record(row)["subject_id_number"] == body + "X"
