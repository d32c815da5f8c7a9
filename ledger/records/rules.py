"""Cross-field rules of ``credit-account-report`` (v1 and v2), as polars expressions over columns.

The rules run on the *normalised* columns of :data:`ledger.records.frame.TYPES`
(dates are ISO strings and compare as strings, amounts are ``"1234.50"``
strings compared in cents, counts are integers). A field that is absent or
failed its own check is null there, and a ``failed:<field>`` column says which
of the two it was. A rule whose inputs are null gives null: one bad value
yields one problem, not a cascade.

Each rule names the field it blames and gives, per row, its fixed reason or
null. The order of :data:`RULES` is the order problems of one field are
reported in. This module is the only implementation of these rules: ingest
runs them on chunks of thousands of rows, :func:`~ledger.records.validate_record`
on a frame of one.

Rows of both versions share the columns; ``schema_version`` is null for
version 1, and the rules of version 2 (account status by account type, the
card list's closed status, a closing report reason) hold only where it is 2.

The resident ID rule needs facts only python-stdnum knows (the region code in
use at the birth year); :func:`with_id_facts` looks them up once per distinct
number and adds them as the columns ``id_problem`` and ``id_born``.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import polars as pl

from ledger.records import codes
from ledger.records.identifiers import resident_id_facts
from ledger.records.schema import (
    BUCKETS,
    CLOSED_STATUS,
    CONDITIONAL,
    DEFAULT_VERSION,
    ID_TYPE_RESIDENT,
    VERSION_FIELD,
)

FAILED: Final = "failed:"
ID_PROBLEM: Final = "id_problem"
ID_BORN: Final = "id_born"
_ZERO: Final = "0.00"
_BORN_LATE: Final = "birth date in resident ID number is after report_date"


class Rule(NamedTuple):
    """One cross-field rule: the field it blames and its reason per row (null: kept)."""

    field: str
    reason: pl.Expr


def _col(name: str) -> pl.Expr:
    return pl.col(name)


def _failed(name: str) -> pl.Expr:
    return pl.col(FAILED + name)


def _cents(name: str) -> pl.Expr:
    return pl.col(name).str.replace(".", "", literal=True).cast(pl.Int64)


def _broken(condition: pl.Expr, reason: str) -> pl.Expr:
    """``reason`` where ``condition`` holds; null where it does not or cannot be told."""
    return pl.when(condition.fill_null(False)).then(pl.lit(reason)).otherwise(pl.lit(None))


def _conditional() -> list[Rule]:
    rules = []
    for name, types in CONDITIONAL.items():
        needed = _col("account_type").is_in(sorted(types)) & _col(name).is_null() & ~_failed(name)
        reason = "required for account_type " + ", ".join(sorted(types))
        rules.append(Rule(name, _broken(needed, reason)))
    return rules


def _id_rule() -> Rule:
    resident = (_col("subject_id_type") == ID_TYPE_RESIDENT) & _col(
        "subject_id_number"
    ).is_not_null()
    late = _col(ID_BORN) > _col("report_date")
    reason = (
        pl.when(resident.fill_null(False) & _col(ID_PROBLEM).is_not_null())
        .then(_col(ID_PROBLEM))
        .when((resident & late).fill_null(False))
        .then(pl.lit(_BORN_LATE))
        .otherwise(pl.lit(None))
    )
    return Rule("subject_id_number", reason)


def _v2() -> pl.Expr:
    return _col(VERSION_FIELD).fill_null(DEFAULT_VERSION) >= 2


def _is_card() -> pl.Expr:
    return _col("account_type").is_in(sorted(codes.CARD_ACCOUNT_TYPES))


def _closed() -> pl.Expr:
    """The account is closed: status 3, but 4 (销户) for a v2 card."""
    card_closed = _v2() & _is_card()
    status = _col("account_status")
    return pl.when(card_closed).then(status == codes.CARD_CLOSED).otherwise(status == CLOSED_STATUS)


def _status_rules() -> list[Rule]:
    """v2: the status is one of its account type's list (loans 1-8, R2 cards their own)."""
    status, v2 = _col("account_status"), _v2()
    loan = _col("account_type").is_in(sorted(codes.LOAN_ACCOUNT_TYPES))
    return [
        Rule(
            "account_status",
            _broken(
                v2 & loan & ~status.is_in(sorted(codes.LOAN_STATUSES)),
                "must be one of the loan statuses 1-8 for account_type D1, R1, R4",
            ),
        ),
        Rule(
            "account_status",
            _broken(
                v2 & _is_card() & ~status.is_in(sorted(codes.CARD_STATUSES)),
                "must be one of the card statuses "
                + ", ".join(codes.CARD_STATUSES)
                + " for account_type R2",
            ),
        ),
        Rule(
            "report_reason",
            _broken(
                v2 & _col("report_reason").is_in(sorted(codes.CLOSING_REASONS)) & ~_closed(),
                "20 and 32 (account closed) need a closed account_status (3; 4 for R2)",
            ),
        ),
    ]


def _amount_rules() -> list[Rule]:
    overdue = _col("overdue_amount")
    known = overdue.is_not_null()
    is_overdue = overdue != _ZERO
    days = _col("days_past_due")
    buckets_failed = pl.any_horizontal([_failed(name) for name in BUCKETS])
    exceeded = (
        pl.when(is_overdue)
        .then(pl.sum_horizontal([_cents(name) for name in BUCKETS]) > _cents("overdue_amount"))
        .otherwise(pl.any_horizontal([(_col(name) != _ZERO).fill_null(False) for name in BUCKETS]))
    )
    balance = _col("balance")
    closed_not_settled = _closed() & balance.is_not_null()
    closed_not_settled &= (balance != _ZERO) | (known & (overdue != _ZERO))
    v2_card = (_v2() & _is_card()).fill_null(False)
    return [
        Rule(
            "balance",
            _broken(
                (_col("account_type") == "D1") & (_cents("balance") > _cents("principal")),
                "must not exceed principal for account_type D1",
            ),
        ),
        Rule(
            "instalments_remaining",
            _broken(
                _col("instalments_remaining") > _col("instalments_total"),
                "must not exceed instalments_total",
            ),
        ),
        Rule(
            "account_status",
            _broken(
                closed_not_settled & ~v2_card, "closed (3) needs balance 0 and overdue_amount 0"
            ),
        ),
        Rule(
            "account_status",
            _broken(
                closed_not_settled & v2_card,
                "closed (4, 销户) needs balance 0 and overdue_amount 0",
            ),
        ),
        Rule(
            "days_past_due",
            _broken(known & is_overdue & (days == 0), "must be > 0 when overdue_amount > 0"),
        ),
        Rule(
            "overdue_amount",
            _broken(known & ~is_overdue & (days > 0), "must be > 0 when days_past_due > 0"),
        ),
        Rule(
            "overdue_instalments",
            _broken(
                known & (_col("overdue_instalments") != 0) & ~is_overdue,
                "must be 0 when overdue_amount is 0",
            ),
        ),
        Rule(
            "overdue_amount",
            _broken(
                known & ~buckets_failed & exceeded,
                "must be >= the sum of the overdue_principal_* buckets",
            ),
        ),
    ]


def _date_rules() -> list[Rule]:
    period, reported, opened = _col("period"), _col("report_date"), _col("open_date")
    paid = _col("last_payment_date")
    return [
        Rule(
            "report_date",
            _broken(reported < period + "-01", "must not be before the first day of period"),
        ),
        Rule("open_date", _broken(opened > reported, "must not be after report_date")),
        Rule("due_date", _broken(_col("due_date") < opened, "must not be before open_date")),
        Rule(
            "last_payment_date",
            _broken(
                (paid < opened).fill_null(False) | (paid > reported).fill_null(False),
                "must be between open_date and report_date",
            ),
        ),
    ]


#: Every cross-field rule, in the order their problems are reported.
RULES: Final[tuple[Rule, ...]] = (
    *_date_rules(),
    *_conditional(),
    _id_rule(),
    *_amount_rules(),
    *_status_rules(),
)
#: The rules' reason columns, as :func:`broken_rules` names them.
RULE_COLUMNS: Final = tuple(f"rule:{position}" for position in range(len(RULES)))


def with_id_facts(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with ``id_problem`` and ``id_born``: what stdnum says of each resident ID
    number (looked up once per distinct number; null for other ID types)."""
    resident = frame.filter(pl.col("subject_id_type") == ID_TYPE_RESIDENT)
    numbers = resident.get_column("subject_id_number").drop_nulls().unique().to_list()
    facts = [resident_id_facts(number) for number in numbers]
    table = pl.DataFrame(
        {
            "subject_id_number": numbers,
            ID_PROBLEM: [problem for problem, _ in facts],
            ID_BORN: [born for _, born in facts],
        },
        schema={"subject_id_number": pl.String, ID_PROBLEM: pl.String, ID_BORN: pl.String},
    )
    return frame.join(table, on="subject_id_number", how="left", maintain_order="left")


def broken_rules(frame: pl.DataFrame) -> pl.DataFrame:
    """One reason column per rule (``rule:0`` ...), null where the rule holds."""
    reasons = [reason.alias(name) for (_, reason), name in zip(RULES, RULE_COLUMNS, strict=True)]
    return with_id_facts(frame).lazy().select(reasons).collect()
