"""The synthetic portfolio: valid rows validate, broken rows do not, and it is fast enough."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from ledger.records import RecordRejected, synthetic_rows, validate_record
from ledger.records._breakage import BREAKAGES
from ledger.records._pools import BIRTH_YEARS, REGIONS, pools
from ledger.records.identifiers import gb11643_check_digit
from ledger.records.validate import validate_records


def test_valid_rows_pass_validation_and_cover_the_portfolio() -> None:
    records = validate_records(list(synthetic_rows(3000, seed=1)))
    valid = [r for r in records if not isinstance(r, RecordRejected)]
    assert len(valid) == len(records)
    records = valid
    kinds = Counter(r["account_type"] for r in records)
    statuses = Counter(r["account_status"] for r in records)
    grades = Counter(r["five_class"] for r in records)
    assert set(kinds) == {"D1", "R1", "R2", "R4"}
    assert {"1", "2", "3", "6"} <= set(statuses)
    assert {"1", "2", "3", "4", "5"} <= set(grades)
    assert sum(1 for r in records if "funders" in r) > 300
    assert sum(1 for r in records if r["days_past_due"] > 90) > 100
    assert any(r["subject_id_type"] != "10" for r in records)
    assert any("overdue_principal_180_plus" in r for r in records)


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_any_seed_gives_valid_rows(seed: int) -> None:
    outcomes = validate_records(list(synthetic_rows(40, seed=seed)))
    assert not [r for r in outcomes if isinstance(r, RecordRejected)]


def test_same_seed_same_rows() -> None:
    assert list(synthetic_rows(50, seed=9)) == list(synthetic_rows(50, seed=9))
    assert list(synthetic_rows(50, seed=9)) != list(synthetic_rows(50, seed=10))


def test_invalid_rows_fail_validation() -> None:
    rows = list(synthetic_rows(3000, seed=2, invalid_ratio=1.0))
    assert all(isinstance(r, RecordRejected) for r in validate_records(rows))


def test_invalid_ratio_is_respected() -> None:
    outcomes = validate_records(list(synthetic_rows(2000, seed=3, invalid_ratio=0.1)))
    rejected = sum(isinstance(r, RecordRejected) for r in outcomes)
    assert 120 < rejected < 280


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_each_breakage_alone_invalidates_any_row(name: str) -> None:
    pool = pools(4)
    rng = random.Random(name)
    for row in itertools.islice(synthetic_rows(200, seed=4), 0, 200, 5):
        BREAKAGES[name](rng, row, pool)
        with pytest.raises(RecordRejected):
            validate_record(row)


def test_pool_regions_are_valid_for_every_birth_year_drawn() -> None:
    for region, first_year in REGIONS:
        for year in range(max(first_year, BIRTH_YEARS[0]), BIRTH_YEARS[1] + 1):
            body = f"{region}{year}0615123"
            assert ric.is_valid(body + gb11643_check_digit(body)), (region, year)


def test_pools_hold_valid_distinct_identifiers() -> None:
    pool = pools(5)
    assert all(ric.is_valid(number) for number in pool.resident_ids)
    assert len(set(pool.orgs)) == len(pool.orgs) >= 40
