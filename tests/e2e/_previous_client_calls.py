"""Run by the previous release's Python (tests/e2e/test_previous_client.py): every call
of that release's ``ledger.client`` against a running server.

Reads a JSON job on stdin, writes what each call answered as JSON on stdout. Uses
only the standard library and ``ledger`` as that release shipped it: nothing here
may import today's code (the test asserts which ``ledger`` was imported).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> None:
    job = json.load(sys.stdin)
    import ledger
    from ledger.client import CreditAnchorClient, NotFoundError

    out: dict[str, Any] = {"ledger_file": ledger.__file__, "version": ledger.__version__}
    url = job["url"]
    with CreditAnchorClient(url, job["operator_key"], timeout=60) as operator:
        out["health"] = operator.health()
        out["ready"] = operator.ready()
        report = operator.submit(job["rows"])
        out["submitted"] = {
            "accepted": report.accepted,
            "rejected": report.rejected,
            "batches": [b.batch_id for b in report.batches],
        }
    with CreditAnchorClient(url, job["auditor_key"], timeout=60) as auditor:
        batch = auditor.batch(job["batch_id"])
        out["batch"] = {"status": batch.status, "tree_size": batch.tree_size,
                        "anchored": batch.anchor is not None}  # fmt: skip
        results = auditor.verify_leaf_hashes([*job["leaf_hashes"], "0x" + "00" * 32])
        out["verify_leaf_hashes"] = [
            [r.status, r.bundle is not None and "0x" + r.bundle.leaf_hash.hex() == r.leaf_hash]
            for r in results
        ]
        by_record = auditor.verify_records(job["records"])
        out["verify_records"] = [[r.status, r.bundle is not None] for r in by_record]
        bundle = auditor.proof(job["leaf_hashes"][0])
        out["proof"] = {"leaf_hash": "0x" + bundle.leaf_hash.hex(), "tree_size": bundle.tree_size}
        try:
            auditor.batch("0x" + "77" * 32)
        except NotFoundError as exc:
            out["missing_batch"] = {"status": exc.status, "type": exc.problem_type}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
