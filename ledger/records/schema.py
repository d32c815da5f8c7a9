"""The record schema ``credit-account-report``, versions 1 and 2: one row per loan account per
reporting period.

Field names are fixed (they are the CSV header and the JSON keys partners send).
Each field has a *kind* that :mod:`ledger.records.validate` knows how to check,
whether it is always required, and its JR/T 0171-2020 category: ``C2`` for
personal identifiers (name, ID number, mobile, the linkable account id),
``C1`` for everything else. ``C3`` data (passwords, PINs, card security codes,
biometrics, track data) has no field here at all: it is refused on input.

Two fields are required only for some account types (see ``CONDITIONAL``):
``due_date`` for non-revolving loans (D1) and ``credit_limit`` for revolving
accounts (R1, R2, R4).

Each version has its own field specs (:data:`SCHEMAS`). Version 2 is version 1
aligned with the credit reference system's personal loan account record (the
code lists of :mod:`ledger.records.codes`): the account statuses 1-8 of loans
and the card list of R2 accounts, the repayment frequency codes, the repayment
status code ``M``, and the fields ``report_reason``, ``special_transactions``
and ``related_parties``. A record names its version in ``schema_version``; a
record without it is version 1 (every record written before version 2 existed),
and a version 1 record never carries the field once validated, so its leaf hash
is what it always was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, NamedTuple

from ledger.records import codes

SCHEMA_ID: Final = "credit-account-report"
#: The versions accepted, oldest first; a record without ``schema_version`` is the first.
SCHEMA_VERSIONS: Final = (1, 2)
DEFAULT_VERSION: Final = 1
LATEST_VERSION: Final = 2
#: The newest version: what the shipped desensitisation policy covers.
SCHEMA_VERSION: Final = LATEST_VERSION
VERSION_FIELD: Final = "schema_version"

Kind = Literal[
    "code",  # str matching ``pattern``
    "text",  # free text without control characters, ``pattern`` bounds its length
    "name",  # a person's name: letters of any script, spaces and the middle dot
    "enum",  # one of ``choices``
    "date",  # YYYY-MM-DD
    "month",  # YYYY-MM
    "decimal",  # decimal string, at most 2 fraction digits, normalised to exactly 2
    "int",  # JSON int or digit string, >= 0
    "uscc",  # Unified Social Credit Code (GB 32100-2015), checked with stdnum.cn.uscc
    "id_number",  # checked against subject_id_type (resident ID: stdnum.cn.ric)
    "mobile",  # mainland mobile, normalised to 11 digits
    "currency",  # ISO 4217 alpha-3
    "funders",  # list of {"org_code": USCC, "share_bp": int}
    "id_list",  # list of str matching ``pattern``
    "version",  # the schema version, a JSON int or digit string (see VERSION_FIELD)
    "special_transactions",  # list of {"type", "date", "amount", "months"} (v2)
    "related_parties",  # list of {"role", "kind", "amount"} (v2)
]
Category = Literal["C1", "C2"]


class FieldSpec(NamedTuple):
    """One input field of the schema."""

    name: str
    kind: Kind
    required: bool
    category: Category = "C1"
    choices: frozenset[str] = frozenset()
    pattern: str = ""  # for kinds code, text and id_list
    fmt: str = ""  # the pattern in words, for error reasons

    @property
    def personal(self) -> bool:
        """True for C2 personal identifiers: never kept in the clear, never echoed in errors."""
        return self.category == "C2"


ID_TYPE_RESIDENT: Final = "10"  # 居民身份证: the only type with a check digit and a birth date
ACCOUNT_TYPES: Final = frozenset({"D1", "R1", "R2", "R4"})
CLOSED_STATUS: Final = "3"
FUNDERS_TOTAL_BP: Final = 10_000  # shares are basis points of the loan
_ID = r"[A-Za-z0-9_-]{1,64}"
_ID_FMT = "1-64 letters, digits, '_' or '-'"


def _enum(*values: str) -> frozenset[str]:
    return frozenset(values)


BUCKETS: Final = (  # overdue principal by days past due
    "overdue_principal_31_60",
    "overdue_principal_61_90",
    "overdue_principal_91_180",
    "overdue_principal_180_plus",
)
_DECIMALS: Final = (
    "principal",
    "credit_limit",
    "amount_due",
    "amount_paid",
    "balance",
    "overdue_amount",
    *BUCKETS,
)

FIELDS_V1: Final[tuple[FieldSpec, ...]] = (
    FieldSpec("report_id", "code", True, pattern=_ID, fmt=_ID_FMT),
    FieldSpec("reporter_org_code", "uscc", True),
    FieldSpec("period", "month", True),
    FieldSpec("report_date", "date", True),
    FieldSpec("subject_name", "name", True, "C2"),
    FieldSpec("subject_id_type", "enum", True, choices=_enum("10", "2", "5", "6", "8", "X")),
    FieldSpec("subject_id_number", "id_number", True, "C2"),
    FieldSpec("subject_mobile", "mobile", False, "C2"),
    FieldSpec(
        "account_id",
        "text",
        True,
        "C2",
        pattern=r"(?=\S)[^\x00-\x1f\x7f-\x9f]{1,64}(?<=\S)",
        fmt="1-64 characters, no control characters or surrounding spaces",
    ),
    FieldSpec("account_type", "enum", True, choices=ACCOUNT_TYPES),
    FieldSpec("business_type", "code", True, pattern="[0-9A-Z]{1,4}", fmt="1-4 digits or A-Z"),
    FieldSpec("open_date", "date", True),
    FieldSpec("due_date", "date", False),
    FieldSpec("currency", "currency", False),
    FieldSpec("principal", "decimal", True),
    FieldSpec("credit_limit", "decimal", False),
    FieldSpec("guarantee_type", "enum", True, choices=_enum(*"1234567", "9")),
    FieldSpec("repayment_frequency", "enum", True, choices=_enum(*"DWMQHYOX")),
    FieldSpec("instalments_total", "int", True),
    FieldSpec("instalments_remaining", "int", True),
    FieldSpec("amount_due", "decimal", True),
    FieldSpec("amount_paid", "decimal", True),
    FieldSpec("last_payment_date", "date", False),
    FieldSpec("balance", "decimal", True),
    FieldSpec("overdue_instalments", "int", True),
    FieldSpec("overdue_amount", "decimal", True),
    *(FieldSpec(name, "decimal", False) for name in BUCKETS),
    FieldSpec("days_past_due", "int", True),
    FieldSpec("five_class", "enum", True, choices=_enum(*"12345", "9")),
    FieldSpec("account_status", "enum", True, choices=_enum(*"123456")),
    FieldSpec(
        "repayment_status",
        "code",
        True,
        pattern="[N1-7CGDZ*#]{1,24}",
        fmt="1-24 monthly status codes, each one of N 1-7 C G D Z * #",
    ),
    FieldSpec("funders", "funders", False),
    FieldSpec("consent_ids", "id_list", False, pattern=_ID, fmt=_ID_FMT),
)


def _v2_fields() -> tuple[FieldSpec, ...]:
    """Version 1's specs with the v2 code lists, then the fields v2 adds."""
    statuses = (*codes.LOAN_STATUSES, *codes.CARD_STATUSES)
    changed = {
        "repayment_frequency": FieldSpec(
            "repayment_frequency", "enum", True, choices=frozenset(codes.REPAYMENT_FREQUENCIES)
        ),
        # Loans and cards have their own lists: the field takes either, a rule the
        # one of its account type (rules.py).
        "account_status": FieldSpec("account_status", "enum", True, choices=frozenset(statuses)),
        "repayment_status": FieldSpec(
            "repayment_status",
            "code",
            True,
            pattern=f"[{codes.REPAYMENT_STATUS_CODES.replace('1234567', '1-7')}]{{1,24}}",
            fmt="1-24 monthly status codes, each one of N 1-7 C G D Z M * #",
        ),
    }
    return (
        FieldSpec(VERSION_FIELD, "version", True, choices=frozenset({"2"})),
        *(changed.get(spec.name, spec) for spec in FIELDS_V1),
        FieldSpec("report_reason", "enum", True, choices=frozenset(codes.REPORT_REASONS)),
        FieldSpec("special_transactions", "special_transactions", False),
        FieldSpec("related_parties", "related_parties", False),
    )


FIELDS_V2: Final = _v2_fields()
#: Each version's fields, in the order problems are reported.
SCHEMAS: Final[Mapping[int, tuple[FieldSpec, ...]]] = {1: FIELDS_V1, 2: FIELDS_V2}


def _all_fields() -> tuple[FieldSpec, ...]:
    """Every field of any version once, the newest version's spec of each: the columns."""
    newest: dict[str, FieldSpec] = {}
    for version in SCHEMA_VERSIONS:
        newest.update((spec.name, spec) for spec in SCHEMAS[version])
    order = [spec.name for spec in FIELDS_V1]
    order += [name for name in newest if name not in order]
    return tuple(newest[name] for name in order)


#: Every field of every version (the columns of validated records).
FIELDS: Final = _all_fields()
FIELD_NAMES: Final = tuple(spec.name for spec in FIELDS)
FIELDS_BY_NAME: Final[Mapping[str, FieldSpec]] = {spec.name: spec for spec in FIELDS}
PERSONAL_FIELDS: Final = frozenset(spec.name for spec in FIELDS if spec.personal)
DECIMAL_FIELDS: Final = frozenset(_DECIMALS)
#: Fields required only for some account types.
CONDITIONAL: Final[Mapping[str, frozenset[str]]] = {
    "due_date": frozenset({"D1"}),
    "credit_limit": frozenset({"R1", "R2", "R4"}),
}
DEFAULT_CURRENCY: Final = "CNY"


def personal_values(record: Mapping[str, object]) -> list[str]:
    """The personal (C2) values present in a validated record: the leak guard's canaries."""
    return [value for name in PERSONAL_FIELDS if isinstance(value := record.get(name), str)]
