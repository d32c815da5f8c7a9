"""A submission: a file of raw records becomes anchored batches, crash-safely.

The file may also be its bytes held in memory (:class:`~ledger.records.readers.RecordBytes`):
the API submits a request's rows so, and they never rest on disk. A submission
is named by the bytes, wherever they are.

Order of durability, per batch of accepted rows:
1. one store transaction writes the batch (``pending``), its leaves, the
   rejections of the rows it covers, and advances the submission's ``rows_done``;
2. only then is the anchor transaction sent (:class:`~ledger.anchoring.outbox.Outbox`).

Killed anywhere, a re-run of the same file resumes: pending batches are
anchored first (exactly once, by batch id), then reading continues after
``rows_done``. Rows never committed were never accepted, so redoing them (with
new salts) loses and duplicates nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ledger._failpoints import failpoint
from ledger.alerts.derive import Deriver, GroupDerivation
from ledger.anchoring.manifest import pending_batch
from ledger.anchoring.outbox import AnchoredBatch, Outbox
from ledger.chain.types import BatchKind
from ledger.errors import InputError
from ledger.ingest.anchor import Anchorer
from ledger.ingest.pipeline import Stages
from ledger.ingest.pipeline import results as results_of
from ledger.ingest.results import Refused, Results
from ledger.ingest.store import Flusher, Queued, ahead
from ledger.logs import event
from ledger.proofs import root_of
from ledger.records import SCHEMA_ID
from ledger.records.readers import RecordSource, open_bytes
from ledger.store import Batch, Rejection, Store, Submission, leaves
from ledger.store.leaves import PackedRecords

log = logging.getLogger(__name__)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_sha256(source: RecordSource) -> str:
    """The SHA-256 of the records' bytes, from a file or from memory alike."""
    try:
        with open_bytes(source) as fh:
            return "0x" + hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise InputError(f"cannot read {source.name}: {exc.strerror}") from None


@dataclass
class SubmitReport:
    """What happened to one submitted file."""

    submission_id: str
    accepted: int = 0
    rejected: int = 0
    already_complete: bool = False
    batches: list[AnchoredBatch] = field(default_factory=list)
    rejections: list[Refused] = field(default_factory=list)
    #: Without ``send``: the batches stored, or found pending, for the anchor sender.
    waiting: list[str] = field(default_factory=list)


class Submitter:
    """Runs submissions against one store, one registry and one policy's stages."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        stages: Stages,
        *,
        submitter: str,
        batch_size: int,
        progress: Callable[[int], None] | None = None,
        workers: int = 1,
        alerts: Deriver | None = None,
        confirm_wait: float = 0.0,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.stages = stages
        self.submitter = submitter
        self.batch_size = batch_size
        self.progress = progress or (lambda _rows: None)
        self.workers = workers
        #: Derives each stored batch's risk alerts in its transaction (None: no alerts).
        self.alerts = alerts
        #: Seconds to await the chain's confirmations of the batches at the end.
        self.confirm_wait = confirm_wait
        self.policy_id = f"{stages.policy.name}/{stages.policy.version}"

    def submit(self, source: RecordSource, *, send: bool = True) -> SubmitReport:
        """Submit a file (or its bytes in memory); the same bytes again resume it.

        Without ``send`` the batches are only stored, pending, and listed in the
        report's ``waiting``: another process, the anchor sender, anchors them.
        """
        sub = self._open_submission(source)
        event(
            log, "submission opened", submission=sub.id, status=sub.status, rows_done=sub.rows_done
        )
        report = SubmitReport(sub.id, sub.accepted, sub.rejected)
        if send:
            report.batches.extend(self.outbox.drain())  # finish what a crash left behind
        else:
            report.waiting.extend(self._pending_of(sub.id))
        if sub.status == "complete":
            report.already_complete = True
            report.rejections = self._stored_rejections(sub.id)
            return report
        pending = Results(last_row=sub.rows_done)
        anchorer = (
            Anchorer(lambda batch_id: self.outbox.send(batch_id, fresh=True), self.outbox.record)
            if send
            else None
        )
        put = anchorer.put if anchorer is not None else report.waiting.append
        flusher = Flusher(lambda group: self._flush(sub.id, group, report, put))
        try:
            for results in self._results(source, skip=sub.rows_done):
                rest: Results | None = results
                while rest is not None:
                    head, rest = rest.split(self.batch_size - len(pending))
                    pending.extend(head)
                    if len(pending) >= self.batch_size:
                        flusher.put(pending)
                        pending = Results(last_row=pending.last_row)
            flusher.put(pending, final=True)
        finally:
            try:
                flusher.close()
            finally:
                if anchorer is not None:
                    anchorer.close()
                    report.batches.extend(anchorer.anchored)
        if any(b.status == "confirming" for b in report.batches):
            self.outbox.settle(self.confirm_wait)
            report.batches = self.outbox.current(report.batches)
        return report

    def _pending_of(self, sub_id: str) -> list[str]:
        """The submission's batches a crash left pending, oldest first."""
        with self.store.session() as s:
            return list(
                s.scalars(
                    select(Batch.batch_id)
                    .where(Batch.submission_id == sub_id, Batch.status == "pending")
                    .order_by(Batch.created_at)
                )
            )

    def _stored_rejections(self, sub_id: str) -> list[Refused]:
        with self.store.session() as s:
            rows = s.scalars(
                select(Rejection)
                .where(Rejection.submission_id == sub_id)
                .order_by(Rejection.row_number, Rejection.id)
            )
            return [Refused(r.row_number, r.field, r.reason) for r in rows]

    def _results(self, source: RecordSource, skip: int) -> Iterator[Results]:
        for results in results_of(source, self.stages, workers=self.workers):
            results = results.after(skip)  # rows a killed run already stored are not redone
            failpoint("chunk-processed")
            yield results
            self.progress(results.last_row)

    def _open_submission(self, source: RecordSource) -> Submission:
        digest = file_sha256(source)
        sub_id = "0x" + hashlib.sha256(f"{digest}|{self.policy_id}".encode()).hexdigest()
        with self.store.session() as s, s.begin():
            sub = s.get(Submission, sub_id)
            if sub is None:
                sub = Submission(
                    id=sub_id,
                    file_sha256=digest,
                    policy=self.policy_id,
                    # the newest record version accepted (older ones are too)
                    schema=f"{SCHEMA_ID}/{self.stages.policy.schema_version}",
                    created_at=now_iso(),
                    status="open",
                    rows_done=0,
                    accepted=0,
                    rejected=0,
                )
                s.add(sub)
        return sub

    def _flush(
        self,
        sub_id: str,
        group: list[Queued],
        report: SubmitReport,
        anchor: Callable[[str], None],
    ) -> None:
        """Store a group of batches in one transaction, then hand each to ``anchor`` (in order)."""
        stored = self._store(sub_id, group)
        for queued, (batch_id, accepted) in zip(group, stored, strict=True):
            pending = queued.batch
            refused_rows = len({r.row_number for r in pending.refused})
            event(
                log,
                "batch stored",
                submission=sub_id,
                batch_id=batch_id,
                accepted=accepted,
                rejected_rows=refused_rows,
                rows_done=pending.last_row,
            )
            if log.isEnabledFor(logging.DEBUG):
                for r in pending.refused:  # reasons name fields, never values
                    event(log, "row rejected", logging.DEBUG, row=r.row_number, field=r.field,
                          reason=r.reason)  # fmt: skip
            failpoint("batch-stored")
            report.accepted += accepted
            report.rejected += refused_rows
            report.rejections.extend(pending.refused)
        for batch_id, _ in stored:
            if batch_id is not None:
                anchor(batch_id)

    def _drop_duplicates(self, s: Session, pending: Results) -> tuple[Results, list[int]]:
        """The accepted records whose ids are new, and their record keys; the others become
        refusals of ``pending``.

        Runs in the storing transaction, so it sees the batches stored before it in it.
        """
        ids = pending.record_ids
        keys = leaves.record_keys(ids)
        known = set(leaves.find_by_record_id(s, ids, keys=keys))
        if not known and len(set(ids)) == len(ids):
            return pending, keys  # the usual case: nothing to drop
        kept, seen = Results(last_row=pending.last_row), set()
        for acc in pending.accepted():
            if acc.record_id in known or acc.record_id in seen:
                pending.refused.append(
                    Refused(acc.row_number, "report_id", "duplicate record id: already submitted")
                )
                continue
            seen.add(acc.record_id)
            kept.add(acc)
        return kept, leaves.record_keys(kept.record_ids)

    def _store(self, sub_id: str, group: list[Queued]) -> list[tuple[str | None, int]]:
        """One transaction: per batch its leaves, rejections, alerts and progress;
        (batch id, accepted) of each."""
        out: list[tuple[str | None, int]] = []
        with self.store.session() as s, s.begin():
            sub = s.get_one(Submission, sub_id)
            derivation = (
                GroupDerivation(self.alerts, s, [q.batch.facts for q in group], ahead)
                if self.alerts is not None
                else None
            )
            for queued in group:
                pending, final = queued.batch, queued.final
                batch_id = self._insert_new(s, sub, queued) if pending else None
                if batch_id is not None:
                    accepted = pending
                else:
                    accepted, keys = self._drop_duplicates(s, pending)
                    batch_id = (
                        self._insert_batch(
                            s,
                            sub,
                            accepted,
                            keys,
                            packed=queued.packed if accepted is pending else None,
                        )
                        if accepted
                        else None
                    )
                if derivation is not None:
                    facts = (
                        pending.facts if accepted is pending else pending.facts_of(accepted.rows)
                    )
                    root = s.get_one(Batch, batch_id).root if batch_id is not None else ""
                    derivation.stored(s, batch_id, root, facts)
                    if final:
                        derivation.put_states(s)
                        derivation.deriver.finish(s)
                if pending.refused:
                    s.execute(
                        insert(Rejection), [_rejection_row(sub_id, r) for r in pending.refused]
                    )
                sub.rows_done = max(sub.rows_done, pending.last_row)
                sub.accepted += len(accepted)
                sub.rejected += len({r.row_number for r in pending.refused})
                if final:
                    sub.status = "complete"
                out.append((batch_id, len(accepted)))
            if derivation is not None:
                derivation.put_states(s)
        return out

    def _insert_new(self, s: Session, sub: Submission, queued: Queued) -> str | None:
        """Store the queued batch whole if none of its record ids is stored (the usual
        case), checked by the key insert itself; None, with nothing stored, otherwise."""
        pending, packed = queued.batch, queued.packed
        ids = pending.record_ids
        if not leaves.bulk(s) or len(set(ids)) != len(ids):
            return None
        keys, keys_json = packed.record_keys() if packed else (leaves.record_keys(ids), None)
        batch = self._batch_row(sub, pending, queued.root.result())
        if not leaves.claim_record_keys(s, batch.batch_id, keys, keys_json=keys_json):
            return None
        return self._insert_batch(s, sub, pending, keys, batch=batch, packed=packed)

    def _batch_row(self, sub: Submission, accepted: Results, root: bytes | None = None) -> Batch:
        """The batch row of ``accepted``; ``root``: their Merkle root, if made already."""
        return pending_batch(
            kind=int(BatchKind.CREDIT_DATA),
            submitter=self.submitter,
            schema=sub.schema,
            policy=sub.policy,
            key_ids=self.stages.desensitiser.key_ids,
            root=root_of(bytes(accepted.hashes)) if root is None else root,
            tree_size=len(accepted),
            first_row=accepted.rows[0],
            last_row=accepted.rows[-1],
            created_at=now_iso(),
            submission_id=sub.id,
        )

    def _insert_batch(
        self,
        s: Session,
        sub: Submission,
        accepted: Results,
        keys: list[int],
        *,
        batch: Batch | None = None,
        packed: PackedRecords | None = None,
    ) -> str:
        """Store ``accepted`` as one batch; ``batch``: its row, whose record keys are claimed;
        ``packed``: its leaves' columns, made since it was queued."""
        claimed = batch is not None
        if batch is None:
            batch = self._batch_row(sub, accepted)
        s.add(batch)
        s.flush()
        leaves.add_batch_leaves(
            s,
            batch.batch_id,
            accepted.record_ids,
            bytes(accepted.hashes),
            accepted.blob,  # read in place: an 11 MB copy per batch, on the flush thread
            accepted.ends,
            keys=keys,
            keys_claimed=claimed,
            packed=packed,
        )
        return batch.batch_id


def _rejection_row(sub_id: str, r: Refused) -> dict[str, object]:
    return {
        "submission_id": sub_id,
        "row_number": r.row_number,
        "field": r.field[:80],
        "reason": r.reason[:300],
    }
