"""``POST /v1/submissions``: raw rows in, validated, desensitised and anchored.

The rows go through the same :class:`~ledger.ingest.submission.Submitter` as
``ledger submit``, as the bytes of a JSON Lines file that exists only in memory:
raw personal values never touch the disk, so a server killed mid-request leaves
none behind (issue 17). The same rows give the same bytes, so a retried request
resumes the same submission.

Earlier versions wrote those bytes to a file under ``api-submissions/`` for the
length of the request; a server killed mid-request left it there.
:func:`sweep_spool` removes such leftovers when the app starts.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from api.auth import Operator, StateDep
from api.models import BatchSummary, RejectionOut, SubmissionReport, SubmissionRequest, problems
from ledger.ingest.submission import SubmitReport
from ledger.records.readers import RecordBytes

router = APIRouter(prefix="/v1", tags=["submissions"])
log = logging.getLogger("api.submissions")
#: Where earlier versions spooled a request's raw rows (see the module docstring).
SPOOL_DIR = "api-submissions"
#: The name a request's rows are read under: its suffix says JSON Lines.
REQUEST_FILE = "request.jsonl"


def as_jsonl(records: list[dict[str, Any]]) -> RecordBytes:
    """The rows as a JSON Lines file's bytes, in memory, which depend only on the rows.

    Byte for byte what earlier versions spooled: a request retried across an
    upgrade still resumes its submission (named by these bytes).
    """
    lines = "".join(
        json.dumps(r, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
        for r in records
    ).encode("utf-8", "surrogatepass")
    return RecordBytes(REQUEST_FILE, lines)


def sweep_spool(data_dir: Path) -> int:
    """Remove the raw-row files a killed server of an earlier version left; how many.

    Nothing writes there any more, so this is safe while other workers serve.
    """
    folder = data_dir / SPOOL_DIR
    try:
        leftovers = list(folder.iterdir())
    except FileNotFoundError:
        return 0
    for path in leftovers:
        path.unlink(missing_ok=True)
    with contextlib.suppress(FileNotFoundError):  # another worker was quicker
        folder.rmdir()
    if leftovers:
        log.warning("removed %d spooled request file(s) left by a killed server", len(leftovers))
    return len(leftovers)


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
    rows = as_jsonl(body.records)
    # Only the elected anchor sender sends; another worker stores the batches and
    # waits (outside the chain lock) until the sender has anchored them.
    send = state.election.elected
    with state.gate.submitter() as submitter:
        report = submitter.submit(rows, send=send)
    if send:
        request.app.state.metrics.anchors.inc(sum(not b.resumed for b in report.batches))
    elif report.waiting:
        report.batches = state.await_anchors(report.waiting)
    return report_out(report)
