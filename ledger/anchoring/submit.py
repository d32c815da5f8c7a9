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
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ledger._failpoints import failpoint
from ledger.anchoring.manifest import pending_batch
from ledger.anchoring.outbox import AnchoredBatch, Outbox, Sent
from ledger.anchoring.parallel import serial_results
from ledger.anchoring.process import RecordProcessor, Refused, Results
from ledger.chain.types import BatchKind
from ledger.errors import InputError
from ledger.logs import event
from ledger.proofs import root_of
from ledger.records import SCHEMA_ID, SCHEMA_VERSION
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


class Submitter:
    """Runs submissions against one store, one registry and one processor."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        processor: RecordProcessor,
        *,
        submitter: str,
        batch_size: int,
        progress: Callable[[int], None] | None = None,
        source: Callable[[RecordSource], Iterator[Results]] | None = None,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.processor = processor
        self.submitter = submitter
        self.batch_size = batch_size
        self.progress = progress or (lambda _rows: None)
        self.source = source or self._serial
        self.policy_id = f"{processor.policy.name}/{processor.policy.version}"

    def submit(self, source: RecordSource) -> SubmitReport:
        """Submit a file (or its bytes in memory); the same bytes again resume it."""
        sub = self._open_submission(source)
        event(
            log, "submission opened", submission=sub.id, status=sub.status, rows_done=sub.rows_done
        )
        report = SubmitReport(sub.id, sub.accepted, sub.rejected)
        report.batches.extend(self.outbox.drain())  # finish what a crash left behind
        if sub.status == "complete":
            report.already_complete = True
            report.rejections = self._stored_rejections(sub.id)
            return report
        pending = Results(last_row=sub.rows_done)
        anchorer = _Anchorer(
            lambda batch_id: self.outbox.send(batch_id, fresh=True), self.outbox.record
        )
        flusher = _Flusher(lambda group: self._flush(sub.id, group, report, anchorer.put))
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
                anchorer.close()
                report.batches.extend(anchorer.anchored)
        return report

    def _stored_rejections(self, sub_id: str) -> list[Refused]:
        with self.store.session() as s:
            rows = s.scalars(
                select(Rejection)
                .where(Rejection.submission_id == sub_id)
                .order_by(Rejection.row_number, Rejection.id)
            )
            return [Refused(r.row_number, r.field, r.reason) for r in rows]

    def _results(self, source: RecordSource, skip: int) -> Iterator[Results]:
        for results in self.source(source):
            results = results.after(skip)  # rows a killed run already stored are not redone
            failpoint("chunk-processed")
            yield results
            self.progress(results.last_row)

    def _serial(self, source: RecordSource) -> Iterator[Results]:
        return serial_results(source, self.processor)

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
                    schema=f"{SCHEMA_ID}/{SCHEMA_VERSION}",
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
        group: list[_Queued],
        report: SubmitReport,
        anchor: Callable[[str], None],
    ) -> None:
        """Store a group of batches in one transaction, then hand each to ``anchor`` (in order)."""
        stored = self._store(sub_id, group)
        for (pending, _, _), (batch_id, accepted) in zip(group, stored, strict=True):
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

    def _store(self, sub_id: str, group: list[_Queued]) -> list[tuple[str | None, int]]:
        """One transaction: per batch its leaves, rejections and progress; (batch id, accepted)."""
        out: list[tuple[str | None, int]] = []
        with self.store.session() as s, s.begin():
            sub = s.get_one(Submission, sub_id)
            for pending, final, packed in group:
                batch_id = self._insert_new(s, sub, pending, packed) if pending else None
                if batch_id is not None:
                    accepted = pending
                else:
                    accepted, keys = self._drop_duplicates(s, pending)
                    if accepted is not pending:
                        packed = None
                    batch_id = (
                        self._insert_batch(s, sub, accepted, keys, packed=packed)
                        if accepted
                        else None
                    )
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
        return out

    def _insert_new(
        self, s: Session, sub: Submission, pending: Results, packed: PackedRecords | None
    ) -> str | None:
        """Store ``pending`` as one batch if none of its record ids is stored (the usual
        case), checked by the key insert itself; None, with nothing stored, otherwise."""
        ids = pending.record_ids
        if not leaves.bulk(s) or len(set(ids)) != len(ids):
            return None
        keys, keys_json = packed.record_keys() if packed else (leaves.record_keys(ids), None)
        batch = self._batch_row(sub, pending)
        if not leaves.claim_record_keys(s, batch.batch_id, keys, keys_json=keys_json):
            return None
        return self._insert_batch(s, sub, pending, keys, batch=batch, packed=packed)

    def _batch_row(self, sub: Submission, accepted: Results) -> Batch:
        return pending_batch(
            kind=int(BatchKind.CREDIT_DATA),
            submitter=self.submitter,
            schema=sub.schema,
            policy=sub.policy,
            key_ids=self.processor.desensitiser.key_ids,
            root=root_of(bytes(accepted.hashes)),
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


#: A batch, whether it is the submission's last, and its leaves' columns (being made).
_Queued = tuple[Results, bool, PackedRecords | None]


class _Flusher:
    """Stores and anchors batches on a background thread, in order, a group at a time.

    Reading goes on meanwhile: SQLite releases the GIL while it writes and
    syncs, so the record threads are not left waiting on the disk. Whatever
    batches are waiting when the thread is free go into one transaction (at
    most ``MAX_GROUP``): every commit rewrites the index pages it touched, so
    fewer, larger commits write far less when reading outpaces storing.
    Durability is a serial run's: every batch is committed before its anchor is
    sent, and each batch's duplicate check sees the batches before it.
    """

    #: 16 rather than 8: a 1M-row submission took 27.4-27.5 s instead of 28.6-32.1 s
    #: (same session, this machine); each queued batch holds ~10 MB, so peak RSS
    #: rose from ~540 to ~700 MiB.
    QUEUED_BATCHES = 16
    #: A group is held until its transaction commits, beside a full queue: 8 rather than
    #: 16 keeps a 1M-row submission's peak RSS at 721-759 MiB instead of 828-852, at the
    #: same speed (five alternating runs each, medians 12.08 and 11.96 s).
    MAX_GROUP = 8

    def __init__(self, flush: Callable[[list[_Queued]], None]) -> None:
        self._flush = flush
        self._queue: queue.Queue[_Queued | None] = queue.Queue(self.QUEUED_BATCHES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ledger-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        done = False
        while not done:
            group: list[_Queued] = []
            item = self._queue.get()
            while item is not None:
                group.append(item)
                if len(group) >= self.MAX_GROUP:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            done = item is None
            if group and self._error is None:  # after a failure, later batches are not stored
                try:
                    self._flush(group)
                except BaseException as exc:  # re-raised in the submitting thread
                    self._error = exc

    def put(self, batch: Results, final: bool = False) -> None:
        """Queue a batch; raises what an earlier batch's flush raised.

        Its leaves' columns (records compressed, keys and ids as JSON) start being
        made now, on the pack threads: the flush thread is a large submission's
        bottleneck, and finds them made.
        """
        packed = leaves.pack_ahead(batch.record_ids, bytes(batch.hashes), batch.blob, batch.ends)
        while True:
            self._raise()
            try:
                self._queue.put((batch, final, packed), timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Wait for the queued batches; raises what a flush raised."""
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


class _Anchorer:
    """Anchors stored batches on a thread of its own, in order, while later ones are stored.

    Each batch is in the outbox (committed, pending) before it gets here, so a
    failure or a kill leaves it for the next run's drain: nothing is lost, and
    the registry refusing a reused batch id keeps it exactly once. After a
    failure the queued batches stay pending, and the error reaches the
    submitting thread at its next batch.

    The chain work goes first: the anchors of whatever batches are queued are
    sent, and only when the queue is empty (or ``RECORD_EVERY`` are sent, for a
    chain slower than the store) are they recorded, in one store transaction.
    Recording waits for the store's write lock, which the flush thread holds for
    seconds at a time; waiting with batches queued left most of a 1M-row
    submission's anchors to be sent after its last batch was stored.
    """

    RECORD_EVERY = 16

    def __init__(
        self,
        send: Callable[[str], Sent],
        record: Callable[[list[Sent]], list[AnchoredBatch]],
    ) -> None:
        self._send = send
        self._record = record
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.anchored: list[AnchoredBatch] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ledger-anchor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        done = False
        while not done:
            sent: list[Sent] = []
            batch_id = self._queue.get()
            while batch_id is not None:
                if self._error is None:
                    try:
                        sent.append(self._send(batch_id))
                    except BaseException as exc:  # re-raised in the submitting thread
                        self._error = exc
                if len(sent) >= self.RECORD_EVERY:
                    break
                try:
                    batch_id = self._queue.get_nowait()
                except queue.Empty:
                    break
            done = batch_id is None
            if sent:  # even after a failure: what is on chain is recorded
                try:
                    self.anchored.extend(self._record(sent))
                except BaseException as exc:  # the batches stay pending: the next drain
                    self._error = self._error or exc

    def put(self, batch_id: str) -> None:
        """Queue a stored batch; raises what an earlier anchor raised."""
        if self._error is not None:
            raise self._error
        self._queue.put(batch_id)

    def close(self) -> None:
        """Wait for the queued anchors; raises what an anchor raised."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def _rejection_row(sub_id: str, r: Refused) -> dict[str, object]:
    return {
        "submission_id": sub_id,
        "row_number": r.row_number,
        "field": r.field[:80],
        "reason": r.reason[:300],
    }
