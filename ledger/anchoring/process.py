"""One raw row in, one salted canonical leaf out (or the reasons it was refused).

This is the per-record hot path of a submission: validate, desensitise, check
for leaks, salt, canonicalise, hash. It holds no store or chain handle, so it
can run in worker processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.privacy import Desensitiser, LeakDetected, LeakGuard, Policy
from ledger.proofs import canonical_bytes, leaf_hash
from ledger.records import RecordRejected, personal_values, validate_record
from ledger.records.readers import RawRow

SALT_BYTES = 32


@dataclass(frozen=True, slots=True)
class Accepted:
    row_number: int
    record_id: str
    leaf_hash: bytes
    canonical: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    row_number: int
    field: str
    reason: str


class RecordProcessor:
    """Validate -> desensitise -> leak guard -> salt -> RFC 8785 -> leaf hash."""

    def __init__(self, policy: Policy, desensitiser: Desensitiser) -> None:
        self.policy = policy
        self.desensitiser = desensitiser
        self.guard = LeakGuard()

    def process(self, row: RawRow) -> Accepted | list[Refused]:
        if row.fields is None:
            return [Refused(row.row_number, "-", row.error or "unreadable row")]
        try:
            record = validate_record(row.fields)
            out = self.desensitiser.apply(record)
            self.guard.check(out, personal_values(record))
        except RecordRejected as exc:
            return [Refused(row.row_number, p.field, p.reason) for p in exc.problems]
        except LeakDetected as exc:
            return [Refused(row.row_number, exc.field, f"leak guard: output has a {exc.kind}")]
        out["salt"] = "0x" + os.urandom(SALT_BYTES).hex()
        canonical = canonical_bytes(out)
        return Accepted(row.row_number, str(out["record_id"]), leaf_hash(canonical), canonical)

    def process_many(self, rows: Iterable[RawRow]) -> list[Accepted | list[Refused]]:
        return [self.process(row) for row in rows]
