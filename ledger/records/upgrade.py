"""A validated ``credit-account-report`` v1 record as v2, by the table in ``codes.V1_TO_V2``.

Used where a v2 shape is needed for a v1 record (the pboc-210 export); the
anchored form of a v1 record never changes: submitting a v1 row keeps it v1.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger.records import codes
from ledger.records.schema import DEFAULT_VERSION, LATEST_VERSION, VERSION_FIELD
from ledger.records.validate import Problem, RecordRejected

NO_V2_CODE = "this v1 value has no v2 code"


def upgrade(record: Mapping[str, object]) -> dict[str, object]:
    """``record`` (validated) as v2; a v2 record is returned as is.

    A v1 record gets the report reason of a monthly report (30): v1 rows are an
    account's report for a period. A v1 value the table has no v2 code for (a
    card's status 5, transferred out) is refused with its field.
    """
    if record.get(VERSION_FIELD, DEFAULT_VERSION) != DEFAULT_VERSION:
        return dict(record)
    out: dict[str, object] = {VERSION_FIELD: LATEST_VERSION, **record}
    out.setdefault("report_reason", codes.V1_REPORT_REASON)
    account_type = record.get("account_type")
    for key, table in codes.V1_TO_V2.items():
        field, _, only_for = key.partition("@")
        if only_for and account_type != only_for:
            continue
        if not only_for and f"{field}@{account_type}" in codes.V1_TO_V2:
            continue  # the account type has its own table
        if (value := record.get(field)) is None:
            continue
        if str(value) not in table:
            raise RecordRejected([Problem(field, NO_V2_CODE)])
        out[field] = table[str(value)]
    return out
