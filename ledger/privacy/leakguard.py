"""Leak guard: refuse a desensitised record that still carries personal data.

Every string in the output (recursively through lists and dicts; numbers too)
is scanned for stand-alone runs of ASCII digits: no letter or digit right before
or after the run (``(?<![0-9A-Za-z])`` ... ``(?![0-9A-Za-z])``), so the hex of a
pseudonym (``0x3f...``) never matches. Only such runs reach the check-digit code:

* a resident ID number: 17 digits + check character (``X`` allowed), region
  first digit 1-8, a calendar birth date (1900-2099), a correct GB 11643 check;
* a mainland mobile: ``1[3-9]`` + 9 digits, also behind a ``86`` country code;
* a payment card number: 15-19 digits, issuer prefix 3/4/5/6, a valid Luhn digit.

Then, canary-style, each of the record's own personal input values (2 characters
or more) must not appear inside any output string. Errors name the field and the
kind only.

Speed: the strings are joined once (NUL-separated), encoded one byte per
character and mapped by ``bytes.translate`` to character classes (digit ``0``,
letter ``a``, ``x`` for X, anything else ``.``); one regex pass over those bytes
finds the stand-alone runs, and Python code runs only per run found.
Digits outside ASCII count as boundaries, not digits: validation only lets ASCII
digits into the fields that carry numbers.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import Final

from ledger.privacy.errors import LeakDetected
from ledger.records.identifiers import gb11643_check_digit, luhn_valid

MIN_CANARY_LENGTH: Final = 2  # a 1-character value would match everywhere
#: ASCII canaries (short account ids) shorter than this would match amounts and dates
#: ("12" in "1200.00"); an ID number or mobile is always longer.
MIN_ASCII_CANARY_LENGTH: Final = 6
MIN_RUN: Final = 11  # the shortest number looked for: a mobile
MIN_BIRTH_YEAR, MAX_BIRTH_YEAR = 1900, 2099  # fewer false positives on other 18-digit codes
_SEP: Final = "\x00"  # joins the scanned strings; validated values never contain it
_CLASSES: Final = bytes(
    b"0"[0] if chr(c).isdigit() else b"x"[0] if chr(c) in "Xx" else b"a"[0] if chr(c).isalnum()
    else b"."[0] for c in range(128)
) + b"." * 128  # fmt: skip
# A boundary, 11 or more digits, an optional X, a boundary: the regex engine
# scans the class bytes in C (one byte per character, no Unicode work).
_RUNS = re.compile(rb"\." + b"0" * MIN_RUN + rb"0*x?(?![0ax])").finditer
_MOBILE = re.compile(r"(?:86)?1[3-9][0-9]{9}").fullmatch
ID_NUMBER, MOBILE, CARD = "resident ID number", "mobile number", "payment card number"


class LeakGuard:
    """Scans output records for ID numbers, mobiles, card numbers and the row's own canaries."""

    def check(self, output: dict[str, object], personal_inputs: Iterable[str]) -> None:
        """Raise :class:`LeakDetected` (field and kind, never the value) if anything leaks."""
        texts = [
            v if type(v) is str else str(v) if type(v) is int else _flatten(v)
            for v in output.values()
        ]
        joined = _SEP.join(texts)
        # One byte per character ("?" for non-ASCII); the leading "." is the left
        # boundary of position 0 and shifts every position by one.
        classes = (b"." + joined.encode("ascii", "replace")).translate(_CLASSES)
        for run in _RUNS(classes):
            kind = classify(joined[run.start() : run.end() - 1])
            if kind is not None:
                raise LeakDetected(field=_field_at(output, texts, run.start()), kind=kind)
        for value in personal_inputs:
            shortest = MIN_ASCII_CANARY_LENGTH if value.isascii() else MIN_CANARY_LENGTH
            if len(value) >= shortest and value in joined:
                position = joined.index(value)
                raise LeakDetected(field=_field_at(output, texts, position), kind="personal input")


def classify(digits: str) -> str | None:
    """The kind of personal number a stand-alone digit run is, or None."""
    if _MOBILE(digits):
        return MOBILE
    if len(digits) == 18 and is_resident_id(digits.upper()):
        return ID_NUMBER
    if 15 <= len(digits) <= 19 and digits[0] in "3456" and digits.isdigit() and luhn_valid(digits):
        return CARD
    return None


def is_resident_id(number: str) -> bool:
    """True for 17 digits + check character with region digit 1-8, a real date and a valid check."""
    if not ("1" <= number[0] <= "8" and number[:17].isdigit()):
        return False
    year = int(number[6:10])
    if not MIN_BIRTH_YEAR <= year <= MAX_BIRTH_YEAR:
        return False
    try:
        datetime.date(year, int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return number[17] == gb11643_check_digit(number[:17])


def _flatten(value: object) -> str:
    """The strings (and numbers) inside a non-string output value, NUL-joined."""
    if type(value) is int:
        return str(value)
    if isinstance(value, dict):
        items: Iterable[object] = value.values()
    elif isinstance(value, list | tuple):
        items = value
    else:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""
    return _SEP.join(
        [x if type(x) is str else str(x) if type(x) is int else _flatten(x) for x in items]
    )


def _field_at(output: dict[str, object], texts: list[str], position: int) -> str:
    """The output field whose text covers ``position`` of the joined texts."""
    end = 0
    for name, text in zip(output, texts, strict=True):
        end += len(text) + len(_SEP)
        if position < end:
            return name
    return next(reversed(output))
