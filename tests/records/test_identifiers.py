"""Check digits against python-stdnum and published examples."""

from __future__ import annotations

from hypothesis import given
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
