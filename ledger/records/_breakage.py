"""Ways to break one synthetic row so that validation must reject it (one rule each).

Each breakage edits the row in place and, whatever the row looked like, leaves
it invalid. They also survive a CSV round trip (the float amount has three
fraction digits, so it stays invalid as text).
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Mapping
from typing import Any, Final

from ledger.records._pools import Pools

Row = dict[str, Any]
Breakage = Callable[[random.Random, Row, Pools], None]
INJECTED_FIELDS: Final = ("cvv", "loan_purpose")  # fields a broken row may add


def _bad_check_digit(rng: random.Random, row: Row, pool: Pools) -> None:
    number = rng.choice(pool.resident_ids)
    wrong = "0123456789X".replace(number[-1], "")
    row.update(subject_id_type="10", subject_id_number=number[:-1] + rng.choice(wrong))


def _float_amount(rng: random.Random, row: Row, pool: Pools) -> None:
    row["principal"] = round(rng.uniform(1000, 99999), 2) + 0.005


def _bad_enum(rng: random.Random, row: Row, pool: Pools) -> None:
    choices = (("account_type", "D9"), ("five_class", "7"), ("guarantee_type", "8"))
    field, value = rng.choice(choices)
    row[field] = value


def _balance_over_principal(rng: random.Random, row: Row, pool: Pools) -> None:
    row.update(account_type="D1", principal="1000.00", balance="1000.01")
    row.setdefault("due_date", row["open_date"])


def _remaining_over_total(rng: random.Random, row: Row, pool: Pools) -> None:
    row.update(instalments_total=12, instalments_remaining=13)


def _due_before_open(rng: random.Random, row: Row, pool: Pools) -> None:
    opened = datetime.date.fromisoformat(row["open_date"])
    row["due_date"] = (opened - datetime.timedelta(days=1)).isoformat()


def _closed_with_balance(rng: random.Random, row: Row, pool: Pools) -> None:
    row.update(account_status="3", balance="100.00")


def _overdue_without_days(rng: random.Random, row: Row, pool: Pools) -> None:
    row.update(overdue_amount="500.00", days_past_due=0)


def _funder_shares(rng: random.Random, row: Row, pool: Pools) -> None:
    first, second = pool.orgs[-2:]
    row["funders"] = [{"org_code": first, "share_bp": 5000}, {"org_code": second, "share_bp": 4999}]


def _missing_required(rng: random.Random, row: Row, pool: Pools) -> None:
    del row[rng.choice(("report_date", "principal", "subject_id_number", "five_class"))]


def _bad_date(rng: random.Random, row: Row, pool: Pools) -> None:
    row["open_date"] = rng.choice(("2024-02-30", "2023-13-01", "20240101"))


def _c3_field(rng: random.Random, row: Row, pool: Pools) -> None:
    row["cvv"] = f"{rng.randrange(1000):03d}"


def _unknown_field(rng: random.Random, row: Row, pool: Pools) -> None:
    row["loan_purpose"] = "消费"


def _bad_mobile(rng: random.Random, row: Row, pool: Pools) -> None:
    row["subject_mobile"] = "1" + "2" * 10  # mobiles start 13-19


def _bad_org_code(rng: random.Random, row: Row, pool: Pools) -> None:
    code = row["reporter_org_code"]
    row["reporter_org_code"] = code[:-1] + ("0" if code[-1] != "0" else "1")


def _bad_repayment_status(rng: random.Random, row: Row, pool: Pools) -> None:
    row["repayment_status"] = "NNA"


BREAKAGES: Final[Mapping[str, Breakage]] = {
    fn.__name__.lstrip("_"): fn
    for fn in (
        _bad_check_digit,
        _float_amount,
        _bad_enum,
        _balance_over_principal,
        _remaining_over_total,
        _due_before_open,
        _closed_with_balance,
        _overdue_without_days,
        _funder_shares,
        _missing_required,
        _bad_date,
        _c3_field,
        _unknown_field,
        _bad_mobile,
        _bad_org_code,
        _bad_repayment_status,
    )
}
