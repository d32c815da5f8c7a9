"""A synthetic credit portfolio: realistic, valid ``credit-account-report`` v1 rows, fast.

Borrowers (Chinese names, valid resident IDs, mobiles) and lender org codes
come from pools built once per seed (:mod:`ledger.records._pools`); each row
then costs a handful of random draws. The mix: non-revolving loans and
revolving / credit-card accounts, current, overdue (with the overdue principal
in the bucket of its days past due and a matching five-class grade), closed and
not-yet-activated accounts, joint lending with two or three funders.

With ``invalid_ratio`` a share of rows is broken in exactly one of
``BREAKAGES`` ways (check digit, float amount, bad enum, cross-field rules,
C3 or unknown field, ...); every broken row fails validation. ``"cvv"`` and
``"loan_purpose"`` (``INJECTED_FIELDS``) are the fields a broken row may add;
:func:`~ledger.records.readers.write_csv` has columns for them by default.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator
from typing import Any, Final

from ledger.records._breakage import BREAKAGES, INJECTED_FIELDS
from ledger.records._pools import pools

__all__ = ["BREAKAGES", "INJECTED_FIELDS", "synthetic_rows"]

Row = dict[str, Any]
_EPOCH: Final = datetime.date(2016, 1, 1).toordinal()
_DAYS: Final = tuple(datetime.date.fromordinal(_EPOCH + i).isoformat() for i in range(16 * 366))
_PERIODS: Final = tuple(f"{y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13))
_TERMS: Final = (6, 12, 12, 24, 36, 36, 60)
_BUSINESS: Final = ("11", "12", "13", "21", "41", "51", "91")
_GUARANTEE: Final = ("4", "4", "4", "1", "2", "3", "5", "6", "7", "9")
_SHARES: Final = ((3000, 7000), (5000, 5000), (2000, 8000), (2000, 3000, 5000))


def synthetic_rows(n: int, *, seed: int, invalid_ratio: float = 0.0) -> Iterator[dict[str, object]]:
    """``n`` raw rows (JSON-ready dicts); the same seed gives the same rows."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, seeded on purpose
    pool = pools(seed)
    borrowers, orgs, borrower_count = pool.borrowers, pool.orgs, len(pool.borrowers)
    breakages = tuple(BREAKAGES.values())
    for i in range(n):
        b = borrowers[int(rng.random() * borrower_count)]
        row: Row = {"report_id": f"RPT-{seed}-{i}", "reporter_org_code": orgs[i % 4]}
        _account(rng, row, i)
        row.update(subject_name=b.name, subject_id_type=b.id_type, subject_id_number=b.id_number)
        if b.mobile is not None:
            row["subject_mobile"] = b.mobile
        if rng.random() < 0.15:
            _funders(rng, row, orgs)
        if rng.random() < 0.7:
            row["consent_ids"] = [f"CNS-{seed}-{i}"]
        if invalid_ratio and rng.random() < invalid_ratio:
            breakages[int(rng.random() * len(breakages))](rng, row, pool)
        yield row


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _account(rng: random.Random, row: Row, i: int) -> None:
    period = _PERIODS[int(rng.random() * len(_PERIODS))]
    year, month = int(period[:4]), int(period[5:])
    end = datetime.date(year + month // 12, month % 12 + 1, 1).toordinal() - _EPOCH - 1
    reported = end + int(rng.random() * 8)  # period end or a few days after
    opened = reported - 30 - int(rng.random() * 2500)
    row.update(
        period=period,
        report_date=_DAYS[reported],
        account_id=f"LN{i:09d}",
        business_type=_BUSINESS[int(rng.random() * 7)],
        open_date=_DAYS[opened],
        guarantee_type=_GUARANTEE[int(rng.random() * 10)],
    )
    if rng.random() < 0.1:
        row["currency"] = "CNY"
    status = rng.random()
    shape = _revolving if rng.random() < 0.35 else _loan
    instalment = shape(rng, row, opened, reported)
    if status < 0.06:
        _closed(rng, row, opened, reported)
    elif status < 0.2:
        _overdue(rng, row, instalment)
    else:
        _current(rng, row, opened, reported)


def _loan(rng: random.Random, row: Row, opened: int, reported: int) -> int:
    term = _TERMS[int(rng.random() * len(_TERMS))]
    elapsed = min(term, (reported - opened) // 30)
    principal = (10 + int(rng.random() * 3000)) * 10_000  # 1,000 to 300,000 yuan
    instalment = principal // term
    row.update(
        account_type="D1",
        due_date=_DAYS[opened + term * 30 + 5],
        principal=_money(principal),
        repayment_frequency="M",
        instalments_total=term,
        instalments_remaining=term - elapsed,
        balance=_money(instalment * (term - elapsed)),
        amount_due=_money(instalment if elapsed < term else 0),
    )
    return instalment


def _revolving(rng: random.Random, row: Row, opened: int, reported: int) -> int:
    limit = (5 + int(rng.random() * 200)) * 100_000  # 5,000 to 200,000 yuan
    used = int(limit * rng.random() * 0.8)
    row.update(
        account_type=("R2", "R2", "R1", "R4")[int(rng.random() * 4)],
        principal=_money(limit),
        credit_limit=_money(limit),
        repayment_frequency="M",
        instalments_total=0,
        instalments_remaining=0,
        balance=_money(used),
        amount_due=_money(used // 10),
    )
    return used // 10


def _history(rng: random.Random, last: str) -> str:
    """A monthly repayment status string (most recent last) ending in ``last``."""
    months = 1 + int(rng.random() * 24)
    return "N" * (months - len(last)) + last if months > len(last) else last


def _current(rng: random.Random, row: Row, opened: int, reported: int) -> None:
    row.update(
        amount_paid=row["amount_due"],
        last_payment_date=_DAYS[max(reported - 1 - int(rng.random() * 25), opened)],
        overdue_instalments=0,
        overdue_amount="0.00",
        days_past_due=0,
        five_class="1",
        account_status="1",
        repayment_status=_history(rng, "N"),
    )
    if row["account_type"] == "R2" and rng.random() < 0.05:  # a card never activated
        row.update(account_status="6", balance="0.00", amount_due="0.00", amount_paid="0.00")
        row.update(repayment_status="*")
        del row["last_payment_date"]


def _overdue(rng: random.Random, row: Row, instalment: int) -> None:
    days = 1 + int(rng.random() * 240)
    missed = 1 + days // 30
    overdue = max(instalment, 100) * missed
    grade = "1" if days <= 30 else "2" if days <= 90 else "3" if days <= 120 else "4"
    row.update(
        amount_paid="0.00",
        overdue_instalments=missed,
        overdue_amount=_money(overdue),
        days_past_due=days,
        five_class="5" if days > 180 else grade,
        account_status="2",
        repayment_status=_history(rng, "".join(str(min(7, k)) for k in range(1, missed + 1))),
    )
    if days > 30:
        bucket = ("31_60", "61_90", "91_180", "180_plus")[
            0 if days <= 60 else 1 if days <= 90 else 2 if days <= 180 else 3
        ]
        row["overdue_principal_" + bucket] = _money(overdue * 3 // 4)


def _closed(rng: random.Random, row: Row, opened: int, reported: int) -> None:
    row.update(
        instalments_remaining=0,
        balance="0.00",
        amount_due="0.00",
        amount_paid="0.00",
        last_payment_date=_DAYS[max(reported - 20 - int(rng.random() * 300), opened)],
        overdue_instalments=0,
        overdue_amount="0.00",
        days_past_due=0,
        five_class="1",
        account_status="3",
        repayment_status=_history(rng, "NC"),
    )


def _funders(rng: random.Random, row: Row, orgs: tuple[str, ...]) -> None:
    shares = _SHARES[int(rng.random() * len(_SHARES))]
    chosen = rng.sample(orgs[4:], len(shares))
    row["funders"] = [{"org_code": o, "share_bp": s} for o, s in zip(chosen, shares, strict=True)]
