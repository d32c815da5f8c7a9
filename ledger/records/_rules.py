"""Cross-field rules of ``credit-account-report`` v1, run on the fields that passed their own check.

Each rule names the field it blames and a fixed reason. A rule whose inputs are
missing or already rejected is skipped, so one bad value yields one problem,
not a cascade. Values here are already normalised: dates are ISO strings (they
compare as strings), amounts are ``"1234.50"`` strings (compared in cents).
"""

from __future__ import annotations

from typing import Any, Final

from ledger.records.identifiers import resident_id_facts
from ledger.records.schema import BUCKETS, CLOSED_STATUS, CONDITIONAL, ID_TYPE_RESIDENT

Record = dict[str, Any]
Found = list[tuple[str, str]]  # (field, reason)
_ZERO: Final = "0.00"


def _cents(amount: str) -> int:
    return int(amount.replace(".", ""))


def check_rules(r: Record, failed: frozenset[str]) -> Found:
    """Problems of the row as a whole; ``failed`` names the fields missing or rejected."""
    found: Found = []
    get = r.get
    period, reported, opened = get("period"), get("report_date"), get("open_date")
    if period and reported and reported < period + "-01":
        found.append(("report_date", "must not be before the first day of period"))
    if opened and reported and opened > reported:
        found.append(("open_date", "must not be after report_date"))
    if (due := get("due_date")) and opened and due < opened:
        found.append(("due_date", "must not be before open_date"))
    if (paid := get("last_payment_date")) and (
        (opened and paid < opened) or (reported and paid > reported)
    ):
        found.append(("last_payment_date", "must be between open_date and report_date"))
    if (account_type := get("account_type")) is not None:
        for name, types in CONDITIONAL.items():
            if account_type in types and name not in r and name not in failed:
                found.append((name, "required for account_type " + ", ".join(sorted(types))))
    if get("subject_id_type") == ID_TYPE_RESIDENT and (number := get("subject_id_number")):
        reason, born = resident_id_facts(number)
        if reason is None and reported and born > reported:
            reason = "birth date in resident ID number is after report_date"
        if reason is not None:
            found.append(("subject_id_number", reason))
    _amounts(r, account_type, failed, found)
    return found


def _amounts(r: Record, account_type: str | None, failed: frozenset[str], found: Found) -> None:
    get = r.get
    balance, overdue, days = get("balance"), get("overdue_amount"), get("days_past_due")
    principal = get("principal")
    if account_type == "D1" and balance and principal and _cents(balance) > _cents(principal):
        found.append(("balance", "must not exceed principal for account_type D1"))
    remaining, total = get("instalments_remaining"), get("instalments_total")
    if remaining is not None and total is not None and remaining > total:
        found.append(("instalments_remaining", "must not exceed instalments_total"))
    if (
        get("account_status") == CLOSED_STATUS
        and balance is not None
        and (balance != _ZERO or overdue not in (None, _ZERO))
    ):
        found.append(("account_status", "closed (3) needs balance 0 and overdue_amount 0"))
    if overdue is None:
        return
    is_overdue = overdue != _ZERO
    if days is not None and is_overdue and days == 0:
        found.append(("days_past_due", "must be > 0 when overdue_amount > 0"))
    if days is not None and not is_overdue and days > 0:
        found.append(("overdue_amount", "must be > 0 when days_past_due > 0"))
    if get("overdue_instalments") and not is_overdue:
        found.append(("overdue_instalments", "must be 0 when overdue_amount is 0"))
    if not failed.isdisjoint(BUCKETS):
        return
    if is_overdue:
        buckets = sum(_cents(r[name]) for name in BUCKETS if name in r)
        exceeded = buckets > _cents(overdue)
    else:
        exceeded = False
        for name in BUCKETS:
            exceeded = exceeded or get(name, _ZERO) != _ZERO
    if exceeded:
        found.append(("overdue_amount", "must be >= the sum of the overdue_principal_* buckets"))
