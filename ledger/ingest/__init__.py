"""Ingest: a records file becomes validated, desensitised, salted leaves in anchored batches.

One module per stage, in the order a row meets them: :mod:`~ledger.ingest.read`,
:mod:`~ledger.ingest.validate`, desensitise (:class:`ledger.privacy.Desensitiser`),
:mod:`~ledger.ingest.guard`, :mod:`~ledger.ingest.canonical` (RFC 8785 text and leaf
hash), then batching (:mod:`~ledger.ingest.results`), :mod:`~ledger.ingest.store`
and :mod:`~ledger.ingest.anchor`. :mod:`~ledger.ingest.pipeline` runs the stages on
chunks of rows in worker processes; :mod:`~ledger.ingest.submission` makes a submission of
it, crash-safe and resumable.
"""

from ledger.ingest.pipeline import Stages
from ledger.ingest.results import Accepted, Refused, Results
from ledger.ingest.session import Submitting, make_submitter
from ledger.ingest.submission import SubmitReport, Submitter, file_sha256

__all__ = [
    "Accepted",
    "Refused",
    "Results",
    "Stages",
    "SubmitReport",
    "Submitter",
    "Submitting",
    "file_sha256",
    "make_submitter",
]
