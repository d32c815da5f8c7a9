"""Stage 7, anchor: stored batches are anchored on a thread of their own, in order."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from ledger.anchoring.outbox import AnchoredBatch, Sent


class Anchorer:
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
