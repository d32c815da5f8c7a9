"""Stage 6, store: batches are written on a thread of their own, in order, a group at a time."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from ledger.ingest.results import Results
from ledger.proofs.merkle import root_of
from ledger.store import leaves
from ledger.store.leaves import PackedRecords

T = TypeVar("T")

_ahead_lock = threading.Lock()
_ahead: ThreadPoolExecutor | None = None


def ahead(fn: Callable[[], T]) -> Future[T]:
    """Run ``fn`` on the ahead thread: one thread, so what is given runs one at a time,
    in the order given. The storing thread hands it what needs no database (a batch's
    Merkle root, its risk alerts) and finds it done when it gets there."""
    global _ahead
    with _ahead_lock:
        if _ahead is None:
            _ahead = ThreadPoolExecutor(1, thread_name_prefix="ledger-ahead")
        return _ahead.submit(fn)


@dataclass(frozen=True)
class Queued:
    """A batch waiting to be stored, and what is made for it meanwhile."""

    batch: Results
    #: Whether it is the submission's last.
    final: bool
    #: Its leaves' columns, being made on the pack threads (None: made when stored).
    packed: PackedRecords | None
    #: The Merkle root of all its records, being computed on the ahead thread.
    root: Future[bytes]


class Flusher:
    """Stores and anchors batches on a background thread, in order, a group at a time.

    Reading goes on meanwhile: SQLite releases the GIL while it writes and
    syncs, so the submitting thread is not left waiting on the disk. Whatever
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

    def __init__(self, flush: Callable[[list[Queued]], None]) -> None:
        self._flush = flush
        self._queue: queue.Queue[Queued | None] = queue.Queue(self.QUEUED_BATCHES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ledger-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        done = False
        while not done:
            group: list[Queued] = []
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
        made now, on the pack threads, and its Merkle root on the ahead thread: the
        flush thread is a large submission's bottleneck, and finds them made.
        """
        hashes = bytes(batch.hashes)
        packed = leaves.pack_ahead(batch.record_ids, hashes, batch.blob, batch.ends)
        item = Queued(batch, final, packed, ahead(lambda: root_of(hashes)))
        while True:
            self._raise()
            try:
                self._queue.put(item, timeout=0.2)
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
