"""The submit's anchor thread: chain work first, records in groups, nothing dropped."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ledger.anchoring.outbox import AnchoredBatch
from ledger.errors import UnavailableError
from ledger.ingest.anchor import Anchorer
from tests.conftest import WAIT_SECONDS


class _Chain:
    """Stands in for the outbox's two halves; the first send waits to be let go."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.go = threading.Event()
        self.fail_at = fail_at
        self.sent: list[str] = []
        self.recorded: list[list[str]] = []

    def send(self, batch_id: str) -> Any:
        assert self.go.wait(timeout=WAIT_SECONDS)
        if batch_id == self.fail_at:
            raise UnavailableError("the node went away")
        self.sent.append(batch_id)
        return batch_id

    def record(self, sent: list[Any]) -> list[AnchoredBatch]:
        self.recorded.append(list(sent))
        return [AnchoredBatch(b, "0x", 1, "0x", 1, resumed=False) for b in sent]


def test_queued_anchors_are_sent_then_recorded_in_groups_in_order() -> None:
    chain = _Chain()
    anchorer = Anchorer(chain.send, chain.record)
    ids = [f"b{i}" for i in range(40)]
    for batch_id in ids:
        anchorer.put(batch_id)
    chain.go.set()
    anchorer.close()
    assert chain.sent == ids
    assert [b for group in chain.recorded for b in group] == ids
    assert all(len(group) <= Anchorer.RECORD_EVERY for group in chain.recorded)
    assert len(chain.recorded) < len(ids)  # grouped, not one transaction per anchor
    assert [a.batch_id for a in anchorer.anchored] == ids


def test_a_failed_send_records_what_was_sent_and_raises_at_close() -> None:
    chain = _Chain(fail_at="b5")
    anchorer = Anchorer(chain.send, chain.record)
    for i in range(10):
        anchorer.put(f"b{i}")
    chain.go.set()
    with pytest.raises(UnavailableError, match="went away"):
        anchorer.close()
    assert chain.sent == [f"b{i}" for i in range(5)]  # nothing after the failure is sent
    assert [b for group in chain.recorded for b in group] == chain.sent
