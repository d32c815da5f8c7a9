"""Per-field checks: one small function per field, built once from the schema table.

A check takes the raw value and returns the normalised one, or raises
:class:`Bad` with a fixed reason. Reasons never contain the value. The common
case (already normalised input) is tried first so a valid row costs one regex
match or one set look-up per field.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Final

from ledger.records import codes
from ledger.records._iso4217 import CURRENCIES
from ledger.records.identifiers import uscc_problem
from ledger.records.schema import FUNDERS_TOTAL_BP, SCHEMA_VERSIONS, FieldSpec

Check = Callable[[object], object]

MAX_INT: Final = 999_999_999  # counts and days; also keeps int() off huge digit strings
MAX_LIST: Final = 100  # funders or consent ids per record: far above any real loan
#: Values already in the form their check returns unchanged (ASCII regexes, which
#: Python's ``re`` and polars' regex engine read alike).
NORMAL_DECIMAL: Final = r"(?:0|[1-9][0-9]{0,8})\.[0-9]{2}"
NORMAL_ID_NUMBER: Final = r"[0-9A-Z]{5,32}"
NORMAL_MOBILE: Final = r"1[3-9][0-9]{9}"
_NORMAL_DECIMAL = re.compile(NORMAL_DECIMAL).fullmatch
_DECIMAL = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,2}))?").fullmatch
_DATE = re.compile(r"(?:19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]").fullmatch
_MONTH = re.compile(r"(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])").fullmatch
_MAX_NAME: Final = 64
_NAME = re.compile(r"(?=\S)(?:[^\W\d_]|[ ·.'-]){1,64}(?<=\S)").fullmatch
_ID_NUMBER = re.compile(NORMAL_ID_NUMBER).fullmatch
_MOBILE = re.compile(NORMAL_MOBILE).fullmatch
_FUNDER_KEYS: Final = frozenset({"org_code", "share_bp"})
_MOBILE_SEPARATORS = str.maketrans("", "", " -")


class Bad(Exception):  # noqa: N818 - internal signal, never leaves validate_record
    """A field value is wrong; ``reason`` says why without quoting it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _text(value: object) -> str:
    if type(value) is not str:
        raise Bad("must be a string")
    return value.strip()


def _matching(pattern: str, reason: str) -> Check:
    match = re.compile(pattern).fullmatch

    def check(value: object) -> object:
        if type(value) is str and match(value):
            return value
        text = _text(value)
        if match(text):
            return text
        raise Bad(reason)

    return check


def _enum(choices: frozenset[str]) -> Check:
    reason = "must be one of " + ", ".join(sorted(choices))

    def check(value: object) -> object:
        if type(value) is not str:
            raise Bad(reason + " (as a string)")
        if value in choices:
            return value
        if (text := value.strip()) in choices:
            return text
        raise Bad(reason)

    return check


# Every valid date or month seen so far. Bounded by the regexes (years 1900-2099:
# at most 73,000 dates and 2,400 months), so they need no eviction.
_VALID_DATES: set[str] = set()
_VALID_MONTHS: set[str] = set()
# Normalised amounts seen so far ("0.00" above all): a set look-up beats the regex.
SEEN_DECIMALS_SIZE: Final = 1 << 16
_SEEN_DECIMALS: set[str] = set()


def check_date(value: object) -> object:
    if type(value) is str and value in _VALID_DATES:
        return value
    text = _text(value)
    if not _DATE(text):
        raise Bad("must be a date YYYY-MM-DD")
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        raise Bad("is not a calendar date") from None
    _VALID_DATES.add(text)
    return text


def check_month(value: object) -> object:
    if type(value) is str and value in _VALID_MONTHS:
        return value
    text = _text(value)
    if not _MONTH(text):
        raise Bad("must be a month YYYY-MM")
    _VALID_MONTHS.add(text)
    return text


def check_decimal(value: object) -> object:
    if type(value) is not str:
        raise Bad("amounts must be decimal strings")
    if value in _SEEN_DECIMALS:
        return value
    if _NORMAL_DECIMAL(value):
        if len(_SEEN_DECIMALS) < SEEN_DECIMALS_SIZE:
            _SEEN_DECIMALS.add(value)
        return value
    match = _DECIMAL(value) or _DECIMAL(value := value.strip())
    if match is None:
        raise Bad(_decimal_reason(value))
    whole, fraction = match.groups()
    if fraction is not None and len(fraction) == 2 and (len(whole) == 1 or whole[0] != "0"):
        return value
    return f"{int(whole)}.{(fraction or '').ljust(2, '0')}"


def _decimal_reason(text: str) -> str:
    if text[:1] in "+-" and text:
        return "amounts must not have a sign"
    if "e" in text.lower():
        return "amounts must not use an exponent"
    whole, _, fraction = text.partition(".")
    if whole.isdigit() and fraction.isdigit() and len(fraction) > 2:
        return "amounts have at most 2 fraction digits"
    if whole.isdigit() and len(whole.lstrip("0")) > 9:
        return "amount exceeds the maximum 999999999.99"
    return "must be a decimal string such as 1234.50"


def check_int(value: object) -> int:
    if type(value) is int:
        number = value
    elif type(value) is str and (text := value.strip()).isascii() and text.isdigit():
        if len(text) > len(str(MAX_INT)):
            raise Bad(f"must be at most {MAX_INT}")
        number = int(text)
    else:
        raise Bad("must be a whole number (JSON integer or digit string)")
    if number < 0:
        raise Bad("must be >= 0")
    if number > MAX_INT:
        raise Bad(f"must be at most {MAX_INT}")
    return number


def check_uscc(value: object) -> str:
    text = _text(value).upper()
    reason = uscc_problem(text)
    if reason is not None:
        raise Bad(reason)
    return text


def check_name(value: object) -> object:
    if type(value) is str and len(value) <= _MAX_NAME and value.isalpha():
        return value  # the common case: letters only (isalpha() is False for "")
    text = _text(value)
    if not _NAME(text):
        raise Bad("must be 1-64 letters (spaces and '·' allowed), without digits")
    return text


def check_id_number(value: object) -> object:
    if type(value) is str and _ID_NUMBER(value):
        return value
    text = _text(value).upper()
    if not _ID_NUMBER(text):
        raise Bad("must be 5-32 letters or digits")
    return text


def check_mobile(value: object) -> object:
    if type(value) is str and _MOBILE(value):
        return value
    text = _text(value)
    if len(text) != 11:
        text = text.translate(_MOBILE_SEPARATORS).removeprefix("+")
        if len(text) == 13 and text.startswith("86"):
            text = text[2:]
    if not _MOBILE(text):
        raise Bad("must be a mainland mobile number (11 digits starting 13-19)")
    return text


def check_currency(value: object) -> object:
    if type(value) is str and value in CURRENCIES:
        return value
    text = _text(value).upper()
    if text not in CURRENCIES:
        raise Bad("must be an ISO 4217 currency code")
    return text


def _list(value: object) -> list[object]:
    if type(value) is not list or not value:
        raise Bad("must be a non-empty list")
    if len(value) > MAX_LIST:
        raise Bad(f"must have at most {MAX_LIST} entries")
    return value


def check_funders(value: object) -> object:
    funders: list[dict[str, object]] = []
    shares = 0
    for position, entry in enumerate(_list(value), 1):
        if type(entry) is not dict or len(entry) != 2 or not _FUNDER_KEYS.issuperset(entry):
            raise Bad(f"entry {position} must have exactly org_code and share_bp")
        try:
            org, share = check_uscc(entry["org_code"]), check_int(entry["share_bp"])
        except Bad as bad:
            raise Bad(f"entry {position}: {bad.reason}") from None
        if not 1 <= share <= FUNDERS_TOTAL_BP:
            raise Bad(f"entry {position}: share_bp must be 1-{FUNDERS_TOTAL_BP}")
        funders.append({"org_code": org, "share_bp": share})
        shares += share
    if len({f["org_code"] for f in funders}) != len(funders):
        raise Bad("funder org codes must be unique")
    if shares != FUNDERS_TOTAL_BP:
        raise Bad(f"funder shares must sum to {FUNDERS_TOTAL_BP} basis points")
    return funders


def _id_list(pattern: str, reason: str) -> Check:
    match = re.compile(pattern).fullmatch

    def check(value: object) -> object:
        entries = _list(value)
        for item in entries:
            if type(item) is not str or not match(item):
                raise Bad(reason)
        return list(entries)

    return check


def check_version(value: object) -> int:
    """A schema version: a JSON int or a digit string naming one of :data:`SCHEMA_VERSIONS`."""
    if type(value) is int and value in SCHEMA_VERSIONS:
        return value
    if type(value) is str and (text := value.strip()).isdigit() and int(text) in SCHEMA_VERSIONS:
        return int(text)
    raise Bad("must be one of " + ", ".join(map(str, SCHEMA_VERSIONS)))


def _entries(keys: dict[str, Check]) -> Check:
    """A check of a list of objects with exactly ``keys``, each checked by its own check."""
    names = frozenset(keys)
    listed = ", ".join(keys)

    def check(value: object) -> object:
        out: list[dict[str, object]] = []
        for position, entry in enumerate(_list(value), 1):
            if type(entry) is not dict or frozenset(entry) != names:
                raise Bad(f"entry {position} must have exactly {listed}")
            checked: dict[str, object] = {}
            for key, one in keys.items():
                try:
                    checked[key] = one(entry[key])
                except Bad as bad:
                    raise Bad(f"entry {position}: {key} {bad.reason}") from None
            out.append(checked)
        return out

    return check


check_special_transactions: Final = _entries(
    {
        "type": _enum(frozenset(codes.SPECIAL_TRANSACTIONS)),
        "date": check_date,
        "amount": check_decimal,
        "months": check_int,
    }
)
check_related_parties: Final = _entries(
    {
        "role": _enum(frozenset(codes.PARTY_ROLES)),
        "kind": _enum(frozenset(codes.PARTY_KINDS)),
        "amount": check_decimal,
    }
)


_BY_KIND: Final[dict[str, Check]] = {
    "date": check_date,
    "month": check_month,
    "decimal": check_decimal,
    "int": check_int,
    "uscc": check_uscc,
    "name": check_name,
    "id_number": check_id_number,
    "mobile": check_mobile,
    "currency": check_currency,
    "funders": check_funders,
    "version": check_version,
    "special_transactions": check_special_transactions,
    "related_parties": check_related_parties,
}


def build_check(spec: FieldSpec) -> Check:
    """The check for one schema field."""
    if spec.kind == "enum":
        return _enum(spec.choices)
    if spec.kind in ("code", "text"):
        return _matching(spec.pattern, f"must be {spec.fmt}")
    if spec.kind == "id_list":
        return _id_list(spec.pattern, f"entries must be strings of {spec.fmt}")
    return _BY_KIND[spec.kind]


def normal_form(spec: FieldSpec) -> str | frozenset[str] | None:
    """What a value of ``spec`` its check returns unchanged looks like: a regex (to match
    whole), a set of values, or None when the check must see every value.

    Each is the test the field's check itself makes first, so a cell that passes it
    needs no check at all: bulk ingest marks such cells valid column by column, and
    hands only the others to the check.
    """
    if spec.kind == "code":
        return spec.pattern
    if spec.kind == "enum":
        return spec.choices
    if spec.kind == "currency":
        return CURRENCIES
    return {"decimal": NORMAL_DECIMAL, "id_number": NORMAL_ID_NUMBER, "mobile": NORMAL_MOBILE}.get(
        spec.kind
    )
