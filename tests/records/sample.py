"""One valid raw row, built fresh per call, and the values inside it (shared by test packages)."""

from __future__ import annotations

from ledger.records.identifiers import gb11643_check_digit

ORG = "91110000600037341L"  # python-stdnum's own USCC example
ORG2 = "91310000132149237G"
ID_BODY = "11010119900307001"  # Beijing Dongcheng, born 1990-03-07
ID_NUMBER = ID_BODY + gb11643_check_digit(ID_BODY)
NAME = "张三丰"
MOBILE = "13812345678"
ACCOUNT = "LN-2024-000123"


def valid_row() -> dict[str, object]:
    """A current non-revolving loan (D1) reported for March 2025."""
    return {
        "report_id": "RPT-0001",
        "reporter_org_code": ORG,
        "period": "2025-03",
        "report_date": "2025-04-02",
        "subject_name": NAME,
        "subject_id_type": "10",
        "subject_id_number": ID_NUMBER,
        "subject_mobile": MOBILE,
        "account_id": ACCOUNT,
        "account_type": "D1",
        "business_type": "11",
        "open_date": "2024-01-15",
        "due_date": "2027-01-15",
        "currency": "CNY",
        "principal": "100000.00",
        "guarantee_type": "4",
        "repayment_frequency": "M",
        "instalments_total": 36,
        "instalments_remaining": 22,
        "amount_due": "3100.00",
        "amount_paid": "3100.00",
        "last_payment_date": "2025-03-15",
        "balance": "61000.00",
        "overdue_instalments": 0,
        "overdue_amount": "0.00",
        "days_past_due": 0,
        "five_class": "1",
        "account_status": "1",
        "repayment_status": "NNNNNNNNNNNNNN",
    }


def overdue_row() -> dict[str, object]:
    """The same loan, 45 days past due with the overdue principal in the 31-60 bucket."""
    row = valid_row()
    row.update(
        overdue_instalments=2,
        overdue_amount="6200.00",
        overdue_principal_31_60="4000.00",
        days_past_due=45,
        five_class="2",
        account_status="2",
        repayment_status="NNNNNNNNNNNN12",
    )
    return row


def revolving_row() -> dict[str, object]:
    """A credit card (R2) with a limit and no instalments."""
    row = valid_row()
    del row["due_date"]
    row.update(
        account_type="R2",
        credit_limit="50000.00",
        principal="50000.00",
        instalments_total=0,
        instalments_remaining=0,
        balance="12000.00",
    )
    return row
