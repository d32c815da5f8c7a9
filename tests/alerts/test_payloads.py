"""Each bank's payload: its own loan reference, its share, and nothing personal."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.alerts.events import risk_facts, transitions
from ledger.alerts.outbox import DATA, NewAlert
from ledger.alerts.payloads import bank_alerts, loan_refs, with_shares
from ledger.alerts.plan import Plan
from ledger.privacy.errors import LeakDetected
from ledger.records.frame import FUNDER
from tests.alerts.conftest import as_new_alerts

#: A resident ID number with a valid check digit, and a mobile number: what must never show.
CANARY_ID = "11010519491231002X"
CANARY_PHONE = "13912345678"
PLAN = Plan.load()
REFS = loan_refs(b"k" * 32)
BATCH = "0x" + "ba" * 32


def alerts_for(accounts: list[tuple[str, int, list[dict[str, object]] | None]]) -> list[NewAlert]:
    frame = pl.DataFrame(
        [
            {
                "row": i,
                "account_pseudonym": account,
                "period": "2024-02",
                "days_past_due": dpd,
                "account_status": "2" if dpd else "1",
                "five_class": "1",
                "balance": "1000.00",
                "overdue_amount": "100.00" if dpd else "0.00",
                "funders": funders,
                "subject_region": "110000",
                "subject_age_band": "30-39",
            }
            for i, (account, dpd, funders) in enumerate(accounts, start=1)
        ],
        schema_overrides={"funders": pl.List(FUNDER)},
    )
    facts = risk_facts(frame, pl.Series(["ab" * 32] * frame.height))
    assert facts is not None
    return as_new_alerts(bank_alerts(transitions(facts, []), PLAN, REFS, BATCH))


def test_each_funder_gets_its_own_thin_payload() -> None:
    funders = [
        {"org_code": "91310000MA1FL0001X", "share_bp": 3000},
        {"org_code": "91110000MA0000002Y", "share_bp": 7000},
    ]
    a, b = alerts_for([("0xacc1", 95, funders), ("0xacc2", 0, funders)])  # acc2: no event
    assert (a.institution, b.institution) == ("91310000MA1FL0001X", "91110000MA0000002Y")
    assert a.event_type == b.event_type == "overdue.entered"
    assert a.data["loan_ref"] != b.data["loan_ref"]  # two banks cannot link their references
    assert a.data["loan_ref"] == REFS.ref("91310000MA1FL0001X", "0xacc1")  # and each is stable
    assert (a.data["balance_share"], b.data["balance_share"]) == ("300.00", "700.00")
    assert (a.data["overdue_amount_share"], a.data["severity"]) == ("30.00", "critical")
    assert a.data["leaf_hash"] == "0x" + "ab" * 32 and a.data["batch_id"] == BATCH
    for alert in (a, b):
        text = str(alert.data)
        assert "0xacc1" not in text and "110000" not in text and "30-39" not in text


@pytest.mark.parametrize(
    ("amount", "bp", "expected"),
    [("1000.00", 3333, "333.30"), ("0.05", 5000, "0.02"), ("0.15", 5000, "0.08"), ("x", 1, None)],
)
def test_shares_are_to_the_cent(amount: str, bp: int, expected: str | None) -> None:
    frame = pl.DataFrame({"amount": [amount], "bp": [bp]})
    assert with_shares(frame, {"amount": "share"}, "bp").get_column("share").item() == expected


@settings(max_examples=300)
@given(st.integers(0, 10**11 - 1), st.integers(1, 10_000))
def test_a_share_is_the_amount_times_the_share_to_the_even_cent(cents: int, bp: int) -> None:
    amount = f"{cents // 100}.{cents % 100:02d}"
    exact = (Decimal(amount) * bp / 10_000).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    frame = pl.DataFrame({"amount": [amount], "bp": [bp]})
    assert with_shares(frame, {"amount": "share"}, "bp").get_column("share").item() == str(exact)


def test_a_payload_that_would_leak_is_refused() -> None:
    refs = loan_refs(b"k" * 32)
    frame = pl.DataFrame(
        [{"row": 1, "account_pseudonym": "0xacc", "period": CANARY_PHONE, "days_past_due": 3,
          "account_status": "2", "five_class": "1", "balance": "1.00", "overdue_amount": "1.00",
          "funders": [{"org_code": "B", "share_bp": 1}]}],
        schema_overrides={"funders": pl.List(FUNDER)},
    )  # fmt: skip
    facts = risk_facts(frame, pl.Series(["ab" * 32]))
    assert facts is not None
    with pytest.raises(LeakDetected):
        bank_alerts(transitions(facts, []), PLAN, refs, BATCH)


BANKS = [f"9131000{i}MA1FL000{i}X" for i in range(5)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 400),
            st.lists(st.sampled_from(BANKS), unique=True, max_size=3),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_no_bank_hears_of_a_loan_it_does_not_fund(book: list[tuple[int, list[str]]]) -> None:
    accounts = [
        (f"0xacc{i}", dpd, [{"org_code": b, "share_bp": 1000} for b in banks] or None)
        for i, (dpd, banks) in enumerate(book)
    ]
    funded = {
        (REFS.ref(b["org_code"], account), b["org_code"])  # type: ignore[arg-type]
        for account, _, banks in accounts
        for b in banks or ()
    }
    for alert in alerts_for(accounts):
        assert (alert.data["loan_ref"], alert.institution) in funded
        assert not any(account in str(alert.data) for account, _, _ in accounts)
        assert CANARY_ID not in str(alert.data) and CANARY_PHONE not in str(alert.data)


def test_an_account_pseudonym_in_a_payload_is_refused_naming_its_field() -> None:
    from ledger.alerts.payloads import _guard

    pseudonym = "0x" + "3c" * 32
    leaky = pl.DataFrame({DATA: [{"period": "2024-01", "note": pseudonym}]})
    shared = {"batch_id": "0x" + "11" * 32, "anchor": {"chain_id": 131277322940537}}
    with pytest.raises(LeakDetected) as refused:
        _guard(leaky, {pseudonym}, shared)
    assert refused.value.field == "note" and pseudonym not in str(refused.value)
    _guard(leaky, {"0x" + "3d" * 32}, shared)  # another account's pseudonym: nothing to refuse
    # The fields every payload shares are guarded too (once per batch).
    clean = pl.DataFrame({DATA: [{"period": "2024-01"}]})
    with pytest.raises(LeakDetected) as refused:
        _guard(clean, {pseudonym}, {"anchor": {"root": pseudonym}})
    assert refused.value.field == "anchor"


def test_a_personal_number_in_a_payload_is_refused_naming_its_field() -> None:
    from ledger.alerts.payloads import _guard

    rows = [{"period": "2024-01", "note": None}, {"period": "2024-02", "note": CANARY_ID}]
    leaky = pl.DataFrame({DATA: rows})
    with pytest.raises(LeakDetected) as refused:
        _guard(leaky, set(), {"batch_id": "0x" + "11" * 32})
    assert refused.value.field == "note" and CANARY_ID not in str(refused.value)
    with pytest.raises(LeakDetected) as refused:
        _guard(leaky.head(1), set(), {"anchor": {"note": CANARY_ID}})
    assert refused.value.field == "anchor"
