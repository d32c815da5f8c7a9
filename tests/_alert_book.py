"""A small co-funded book that raises alerts: three overdue loans, two banks.

Bank A alone funds the first loan, bank B alone the second, both the third. In
January every loan is 10 days past due (``overdue.entered`` to each funder, and
each bank's book breaches the plan's M1+ threshold); in February 40 days
(``overdue.bucket_rolled``, and the book goes to level 3). So each bank gets its
own alerts and one shared loan, and the other's alerts must never reach it.
"""

from __future__ import annotations

from typing import Any, Final

from tests.alerts.test_submit_alerts import month, overdue_co_funded

BANK_A: Final = "913101009286642392"
BANK_B: Final = "9112010096312606RX"
#: A partner with a key and no co-funded loan: it must see nothing.
BANK_C: Final = "91440300MA5FXXXX0Y"
FUNDING: Final = (
    [{"org_code": BANK_A, "share_bp": 10000}],
    [{"org_code": BANK_B, "share_bp": 10000}],
    [{"org_code": BANK_A, "share_bp": 4000}, {"org_code": BANK_B, "share_bp": 6000}],
)


def loans() -> list[dict[str, Any]]:
    rows = overdue_co_funded(len(FUNDING))
    return [{**row, "funders": funders} for row, funders in zip(rows, FUNDING, strict=True)]


def january() -> list[dict[str, Any]]:
    return month(loans(), "2025-01", 10, "jan")


def february() -> list[dict[str, Any]]:
    return month(loans(), "2025-02", 40, "feb")
