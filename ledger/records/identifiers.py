"""Check digits of the identifiers a credit record carries.

* Resident ID number (居民身份证号码), GB 11643-1999: 6-digit region code, 8-digit
  birth date, 3-digit order code, ISO 7064 MOD 11-2 check character (``0-9`` or ``X``).
  Full validation (including the region code valid at the birth year) is
  python-stdnum's ``stdnum.cn.ric``; results are cached per number because the
  same borrowers appear on many rows.
* Unified Social Credit Code, GB 32100-2015: ``stdnum.cn.uscc``, cached likewise.
* Payment card numbers: the Luhn check (ISO/IEC 7812-1), for the leak guard.

Every function returns a *reason* (a fixed text, never the value) or ``None``.
"""

from __future__ import annotations

import datetime
from functools import lru_cache
from typing import Final

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

#: Distinct numbers whose verdict is kept: a borrower repeats across rows and
#: across months, and stdnum's region look-up is the slow part (~20 µs).
ID_CACHE_SIZE: Final = 1 << 16
#: (region code, birth year) pairs remembered: every code stdnum knows, for a few years each.
REGION_CACHE_SIZE: Final = 1 << 15
_RIC_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_RIC_CHARS: Final = "10X98765432"  # ISO 7064 MOD 11-2: check character by weighted sum mod 11


def gb11643_check_digit(body: str) -> str:
    """The check character for the first 17 digits of a resident ID number."""
    total = sum(int(c) * w for c, w in zip(body, _RIC_WEIGHTS, strict=True))
    return _RIC_CHARS[total % 11]


def luhn_valid(digits: str) -> bool:
    """True when a string of ASCII digits passes the Luhn check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def birth_date(number: str) -> str:
    """The ISO birth date inside an already valid 18-character resident ID number."""
    return f"{number[6:10]}-{number[10:12]}-{number[12:14]}"


@lru_cache(maxsize=ID_CACHE_SIZE)
def resident_id_facts(number: str) -> tuple[str | None, str]:
    """(why ``number`` is not a valid resident ID number or None, its ISO birth date or "")."""
    reason = resident_id_problem(number)
    return reason, birth_date(number) if reason is None else ""


def resident_id_problem(number: str) -> str | None:
    """Why ``number`` is not a valid resident ID number, or None when it is."""
    if len(number) != 18:
        return "resident ID number must be 18 characters"
    if not (number[:17].isascii() and number[:17].isdigit()) or number[17] not in "0123456789X":
        return "resident ID number must be 17 digits and a check character 0-9 or X"
    if number[17] != gb11643_check_digit(number[:17]):
        return "resident ID check digit is wrong (GB 11643)"
    try:
        born = datetime.date.fromisoformat(birth_date(number))
    except ValueError:
        return "birth date in resident ID number is not a calendar date"
    if born > datetime.date.today():
        return "birth date in resident ID number is in the future"
    if not _region_in_use(number[:6], number[6:10]):
        return "region code in resident ID number is unknown or not in use at the birth year"
    return None


@lru_cache(maxsize=REGION_CACHE_SIZE)
def _region_in_use(region: str, year: str) -> bool:
    """Whether stdnum knows the 6-digit region code as in use in ``year``.

    Its answer depends on nothing else (the code's counties and the birth year),
    and a look-up walks its database of ~3500 codes: borrowers share far fewer
    (code, year) pairs than ID numbers.
    """
    try:
        ric.get_birth_place(f"{region}{year}0101")
    # stdnum raises ValidationError for an unknown region and, for a few
    # prefecture-level codes without a county entry, a bare KeyError.
    except (ValidationError, KeyError):
        return False
    return True


@lru_cache(maxsize=ID_CACHE_SIZE)
def uscc_problem(code: str) -> str | None:
    """Why ``code`` is not a valid Unified Social Credit Code, or None when it is."""
    if len(code) != 18:
        return "must be an 18-character Unified Social Credit Code"
    try:
        uscc.validate(code)
    except ValidationError:
        return "is not a valid Unified Social Credit Code (format or check character)"
    return None


def uscc_check_char(body: str) -> str:
    """The check character for the first 17 characters of a USCC."""
    return str(uscc.calc_check_digit(body))
