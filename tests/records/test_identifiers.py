"""Check digits against python-stdnum and published examples."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from ledger.records.identifiers import (
    birth_date,
    gb11643_check_digit,
    luhn_valid,
    resident_id_problem,
    uscc_check_char,
    uscc_problem,
)


@given(st.from_regex(r"[1-8][0-9]{16}", fullmatch=True))
def test_gb11643_check_digit_matches_stdnum(body: str) -> None:
    assert gb11643_check_digit(body) == ric.calc_check_digit(body + "0")


def test_gb11643_published_example() -> None:
    # GB 11643-1999 appendix example: 11010519491231002X
    assert gb11643_check_digit("11010519491231002") == "X"
    assert resident_id_problem("11010519491231002X") is None
    assert birth_date("11010519491231002X") == "1949-12-31"


@given(st.from_regex(r"[0-9]{8}[0-9A-HJ-NPQRTUWXY]{9}", fullmatch=True))
def test_uscc_check_char_is_accepted_by_stdnum(body: str) -> None:
    code = body + uscc_check_char(body)
    assert uscc.is_valid(code)
    assert uscc_problem(code) is None


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")  # the classic Visa test number
    assert luhn_valid("6222021234567890124") is False
    assert luhn_valid("79927398713")  # Wikipedia's worked example
    assert not luhn_valid("79927398710")


# Beijing's 110103 (崇文区) was merged away in 2010; 110101 is in use throughout.
@pytest.mark.parametrize(
    ("body", "in_use"),
    [("11010320090615123", True), ("11010320110615123", False), ("11010119500615123", True),
     ("99010119900307001", False)],
)  # fmt: skip
def test_region_codes_in_use_at_the_birth_year(body: str, in_use: bool) -> None:
    number = body + gb11643_check_digit(body)
    assert (resident_id_problem(number) is None) is in_use
    if not in_use:
        assert "region code" in (resident_id_problem(number) or "")


@settings(max_examples=300, deadline=None)
@given(
    region=st.sampled_from(["110101", "110103", "110104", "110110", "310101", "440305", "990101"]),
    year=st.integers(1940, 2020),
    day=st.integers(10, 28),
)
def test_the_region_verdict_is_stdnums_for_the_whole_number(
    region: str, year: int, day: int
) -> None:
    body = f"{region}{year}06{day}123"
    number = body + gb11643_check_digit(body)
    assert (resident_id_problem(number) is None) is ric.is_valid(number)
