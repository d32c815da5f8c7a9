"""The leak guard, tested directly on output dicts with canary values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.privacy import LeakDetected, LeakGuard
from ledger.privacy.leakguard import CARD
from ledger.privacy.leakguard import ID_NUMBER as ID_KIND
from ledger.privacy.leakguard import MOBILE as MOBILE_KIND
from ledger.privacy.masks import mask
from ledger.records.identifiers import gb11643_check_digit, luhn_valid
from tests.records.sample import ACCOUNT, ID_NUMBER, MOBILE, NAME

CARD_NUMBER = next(n for d in "0123456789" if luhn_valid(n := "622202123456789012" + d))
X_ID = next(
    b + "X" for n in range(1000) if gb11643_check_digit(b := f"11010119900307{n:03d}") == "X"
)
GUARD = LeakGuard()


def output(**fields: object) -> dict[str, object]:
    return {"record_id": "RPT-1", "principal": "100000.00", "days_past_due": 0} | fields


def leak(out: dict[str, object], personal: tuple[str, ...] = ()) -> LeakDetected:
    with pytest.raises(LeakDetected) as caught:
        GUARD.check(out, personal)
    return caught.value


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (ID_NUMBER, ID_KIND),
        (X_ID, ID_KIND),
        (X_ID.lower(), ID_KIND),
        (f"borrower {ID_NUMBER}.", ID_KIND),
        (MOBILE, MOBILE_KIND),
        ("+86" + MOBILE, MOBILE_KIND),
        (f"tel:{MOBILE}", MOBILE_KIND),
        (CARD_NUMBER, CARD),
        ("4111111111111111", CARD),
    ],
)
def test_numbers_in_a_kept_field_are_refused(value: str, kind: str) -> None:
    caught = leak(output(record_id=value))
    assert (caught.field, caught.kind) == ("record_id", kind)
    assert value not in str(caught) and value not in caught.diagnostics()
    assert isinstance(caught, InputError)


def test_nested_values_and_numbers_are_scanned() -> None:
    assert leak(output(funders=[{"org_code": "x", "share_bp": MOBILE}])).field == "funders"
    assert leak(output(consent_ids=["c1", ID_NUMBER])).field == "consent_ids"
    assert leak(output(days_past_due=int(MOBILE))).kind == MOBILE_KIND


@pytest.mark.parametrize(
    "value",
    [
        "A" + ID_NUMBER,  # glued to a letter: not a stand-alone number
        ID_NUMBER + "0",
        ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1"),  # wrong check digit
        "9" + ID_NUMBER[1:],  # region must start 1-8
        "12" + MOBILE[2:],  # 12x is not a mobile prefix
        CARD_NUMBER[:-1] + str((int(CARD_NUMBER[-1]) + 1) % 10),  # Luhn fails
        "91110000600037341L",  # an org code
        "2025-04-02",
        "999999999.99",
        mask("id", ID_NUMBER),
        mask("mobile", MOBILE),
        mask("card", CARD_NUMBER),
        mask("name", NAME),
    ],
)
def test_harmless_values_pass(value: str) -> None:
    GUARD.check(output(record_id=value, note=[value]), ())


@given(st.binary(min_size=32, max_size=32))
def test_hex_pseudonyms_never_trigger(digest: bytes) -> None:
    GUARD.check(output(subject_pseudonym="0x" + digest.hex(), account_pseudonym=digest.hex()), ())


@given(st.integers(min_value=10**10, max_value=10**19))
def test_long_digit_runs_inside_hex_never_trigger(number: int) -> None:
    GUARD.check(output(subject_pseudonym=f"0xab{number}cd"), ())


@pytest.mark.parametrize("canary", [NAME, ACCOUNT, "LN-900", "王五"])
def test_the_rows_own_personal_values_are_canaries(canary: str) -> None:
    caught = leak(output(business_type=f"x{canary}y"), (canary,))
    assert (caught.field, caught.kind) == ("business_type", "personal input")
    assert canary not in str(caught)


def test_one_character_values_are_not_canaries() -> None:
    GUARD.check(output(record_id="RPT-1"), ("R", "1"))


def test_short_ascii_values_are_not_canaries() -> None:
    """A short account id like "12" must not reject every row with "1200.00" in it."""
    GUARD.check(output(principal="1200.00", record_id="LN-12"), ("12", "LN-12"[:5]))


def test_clean_output_passes() -> None:
    GUARD.check(output(), (NAME, ID_NUMBER, MOBILE, ACCOUNT))
