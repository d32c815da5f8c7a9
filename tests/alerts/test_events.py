"""Risk events from facts: each rule on its own, and the state the next batch compares with."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from ledger.alerts.events import (
    BUCKET_ROLLED,
    FIVE_CLASS_DOWNGRADED,
    OVERDUE_CURED,
    OVERDUE_ENTERED,
    STATUS_CHANGED,
    band,
    next_states,
    risk_facts,
    transitions,
)
from ledger.records.frame import FUNDER

BANK_A = [{"org_code": "91310000MA1FL0001X", "share_bp": 3000}]


def output(*records: dict[str, Any]) -> pl.DataFrame:
    """A desensitised frame as the pipeline hands it over (defaults: a current loan)."""
    base = {
        "account_pseudonym": "0xacc1",
        "period": "2024-01",
        "days_past_due": 0,
        "account_status": "1",
        "five_class": "1",
        "balance": "1000.00",
        "overdue_amount": "0.00",
        "overdue_principal_31_60": None,
        "overdue_principal_61_90": None,
        "funders": BANK_A,
        "subject_pseudonym": "0xsubject",
    }
    rows = [{"row": i, **base, **r} for i, r in enumerate(records, start=1)]
    return pl.DataFrame(rows, schema_overrides={"funders": pl.List(FUNDER)})


def events_of(
    frame: pl.DataFrame, stored: list[dict[str, Any]] | None = None
) -> list[tuple[int, str]]:
    facts = risk_facts(frame, pl.Series(["ab" * 32] * frame.height))
    assert facts is not None
    return [(r["row"], r["event"]) for r in transitions(facts, stored or []).iter_rows(named=True)]


def stored_after(frame: pl.DataFrame) -> list[dict[str, Any]]:
    facts = risk_facts(frame, pl.Series(["ab" * 32] * frame.height))
    assert facts is not None
    return next_states(facts, []).to_dicts()


@pytest.mark.parametrize(
    ("dpd", "expected"),
    [(0, 0), (1, 1), (30, 1), (31, 2), (60, 2), (61, 3), (180, 6), (181, 7), (900, 7)],
)
def test_bands_follow_the_repayment_codes(dpd: int, expected: int) -> None:
    assert pl.select(band(pl.lit(dpd))).item() == expected


def test_a_first_record_already_overdue_enters_overdue() -> None:
    assert events_of(output({"days_past_due": 5, "overdue_amount": "10.00"})) == [
        (1, OVERDUE_ENTERED)
    ]
    assert events_of(output({"days_past_due": 0})) == []


def test_within_a_batch_each_record_is_compared_with_the_one_before() -> None:
    frame = output(
        {"period": "2024-01"},
        {"period": "2024-02", "days_past_due": 12},
        {"period": "2024-03", "days_past_due": 43},
        {"period": "2024-04", "days_past_due": 50, "overdue_principal_61_90": "5.00"},
        {"period": "2024-05", "days_past_due": 0},
    )
    assert events_of(frame) == [
        (2, OVERDUE_ENTERED),
        (3, BUCKET_ROLLED),
        (4, BUCKET_ROLLED),  # same 30-day band, the principal moved to 61-90
        (5, OVERDUE_CURED),
    ]


def test_status_and_five_class_against_the_stored_state() -> None:
    stored = stored_after(output({"period": "2024-01", "five_class": "2"}))
    later = output(
        {"period": "2024-02", "account_status": "4", "five_class": "3"},
    )
    assert events_of(later, stored) == [(1, STATUS_CHANGED), (1, FIVE_CLASS_DOWNGRADED)]
    # An upgrade, an unclassified class, or a status no alert covers raise nothing.
    for change in ({"five_class": "1"}, {"five_class": "9"}, {"account_status": "2"}):
        assert events_of(output({"period": "2024-02", "five_class": "2", **change}), stored) == []


def test_the_same_records_again_or_older_ones_raise_nothing() -> None:
    frame = output({"period": "2024-03", "days_past_due": 40, "overdue_amount": "9.00"})
    stored = stored_after(frame)
    assert events_of(frame, stored) == []
    older = output({"period": "2024-01", "days_past_due": 0})
    assert events_of(older, stored) == []
    facts = risk_facts(older, pl.Series(["cd" * 32]))
    assert facts is not None
    assert next_states(facts, stored).is_empty()  # the state never moves back


def test_only_co_funded_records_have_facts() -> None:
    frame = output({"funders": None}, {"funders": []}, {"account_pseudonym": "0xacc2"})
    facts = risk_facts(frame, pl.Series(["ab" * 32] * 3))
    assert facts is not None
    assert facts.get_column("row").to_list() == [3]
    # A policy whose outputs lack what the rules compare gives no facts at all.
    assert risk_facts(frame.drop("funders"), pl.Series(["ab" * 32] * 3)) is None


def test_states_hold_no_personal_value() -> None:
    state = stored_after(output({"days_past_due": 3, "overdue_amount": "1.00"}))[0]
    assert "0xsubject" not in str(state)
    assert state["funders"] == '[{"org_code":"91310000MA1FL0001X","share_bp":3000}]'
