"""A chain that fails mid-submission loses nothing: stored batches wait in the outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger.config import Settings
from ledger.errors import UnavailableError
from ledger.records import synthetic_rows, write_csv
from ledger.store import Batch, leaves
from ledger.wiring import Ledger


@pytest.fixture
def ledger(data_dir: Path, deploy_copy: Callable[[Path], Path]) -> Iterator[Ledger]:
    deploy_copy(data_dir)  # what `ledger deploy` leaves
    settings = Settings(data_dir=data_dir, rpc_url=None, db_url=None, batch_size=40)
    with Ledger.open(settings, holder="pytest") as opened:
        yield opened


def test_an_anchor_failing_midway_keeps_every_batch_for_the_next_run(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.csv"
    write_csv(synthetic_rows(400, seed=3, invalid_ratio=0.0), path)
    real_send = ledger.outbox.send  # the chain half of an anchor
    calls: list[str] = []

    def flaky(batch_id: str, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append(batch_id)
        if len(calls) >= 3:
            raise UnavailableError("the node went away")
        return real_send(batch_id, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger.outbox, "send", flaky)
    with pytest.raises(UnavailableError, match="went away"):
        ledger.submitter().submit(path)
    with ledger.store.session() as s:
        rows = s.execute(select(Batch.status, func.count()).group_by(Batch.status)).all()
        statuses = {status: count for status, count in rows}
    assert statuses["anchored"] == 2  # the two anchors before the failure
    assert statuses["pending"] >= 1  # stored, not anchored: waiting in the outbox
    monkeypatch.setattr(ledger.outbox, "send", real_send)
    again = ledger.submitter().submit(path)
    with ledger.store.session() as s:
        batches = list(s.scalars(select(Batch)))
        stored = leaves.leaf_count(s)
    assert {b.status for b in batches} == {"anchored"}
    assert stored == 400  # every accepted record, once
    assert len({b.batch_id for b in batches}) == len(batches) == 10
    assert ledger.registry.anchor_count() == 10  # each batch anchored exactly once
    assert again.accepted == 400
