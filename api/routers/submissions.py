"""``POST /v1/submissions``: raw rows in, validated, desensitised and anchored.

The rows go through the same :class:`~ledger.anchoring.submit.Submitter` as
``ledger submit``: they are written to a private JSONL file under the data dir
(the same rows give the same bytes, so a retried request resumes the same
submission), deleted afterwards: raw personal values do not outlive the request
on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from api.auth import Operator, StateDep
from api.jsonbody import FastJSONRoute
from api.models import BatchSummary, RejectionOut, SubmissionReport, SubmissionRequest, problems
from ledger.anchoring.submit import SubmitReport

router = APIRouter(prefix="/v1", tags=["submissions"], route_class=FastJSONRoute)
SPOOL_DIR = "api-submissions"


def spool(data_dir: Path, records: list[dict[str, Any]]) -> Path:
    """The rows as a private (0600) JSONL file whose bytes depend only on the rows."""
    lines = "".join(
        json.dumps(r, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
        for r in records
    ).encode("utf-8", "surrogatepass")
    folder = data_dir / SPOOL_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The submission id comes from the bytes, not the name: a random suffix keeps two
    # identical requests (on two workers) from deleting each other's file.
    path = folder / f"{hashlib.sha256(lines).hexdigest()}-{secrets.token_hex(4)}.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(lines)
    return path


def report_out(report: SubmitReport) -> SubmissionReport:
    return SubmissionReport(
        submission_id=report.submission_id,
        already_complete=report.already_complete,
        accepted=report.accepted,
        rejected=report.rejected,
        batches=[BatchSummary(**asdict(b)) for b in report.batches],
        rejections=[
            RejectionOut(row=r.row_number, field=r.field, reason=r.reason)
            for r in report.rejections
        ],
    )


@router.post("/submissions", responses=problems(400, 401, 403, 413, 422, 503))
def submit(
    body: SubmissionRequest, state: StateDep, _key: Operator, request: Request
) -> SubmissionReport:
    """Validate, desensitise, salt and anchor raw records; returns the submission report."""
    with state.gate.submitter() as submitter:
        path = spool(state.settings.data_dir, body.records)
        try:
            report = submitter.submit(path)
        finally:
            path.unlink(missing_ok=True)
    request.app.state.metrics.anchors.inc(sum(not b.resumed for b in report.batches))
    return report_out(report)
