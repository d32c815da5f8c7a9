"""A submission whose batches are made ready on the pack threads stores what an inline one does.

Batches under ``leaves.packing._PACK_INLINE_BYTES`` are stored inline, so only a large
submission takes this path; here the threshold is lowered to take it with a few
hundred rows, on the real store and the embedded chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ledger.config import Settings
from ledger.records import synthetic_rows, write_csv
from ledger.store import Batch, leaves
from ledger.wiring import Ledger


@pytest.fixture
def ledger(data_dir: Path, db_url: str, deploy_copy: Callable[[Path], Path]) -> Iterator[Ledger]:
    deploy_copy(data_dir)  # what `ledger deploy` leaves
    settings = Settings(data_dir=data_dir, rpc_url=None, db_url=db_url, batch_size=100)
    with Ledger.open(settings, holder="pytest") as opened:
        yield opened


def test_batches_packed_ahead_claim_their_keys_and_refuse_duplicates(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leaves.packing, "_PACK_INLINE_BYTES", 0)
    monkeypatch.setattr(leaves.packing, "PACK_THREADS", 2)
    made: list[int] = []  # records per batch made ready ahead
    real = leaves.pack_ahead

    def counted(*args):  # type: ignore[no-untyped-def]
        packed = real(*args)
        assert packed is not None
        made.append(len(args[0]))
        return packed

    monkeypatch.setattr(leaves, "pack_ahead", counted)
    first_rows = list(synthetic_rows(300, seed=5, invalid_ratio=0.0))
    write_csv(first_rows, tmp_path / "first.csv")
    first = ledger.submitter().submit(tmp_path / "first.csv")
    assert first.accepted == 300
    assert made == [100, 100, 100, 0]  # the last one: the submission's empty final flush

    with ledger.store.session() as s:
        batch_ids = list(s.scalars(select(Batch.batch_id)))
        stored = [leaf for b in batch_ids for leaf in leaves.batch_leaves(s, b)]
        by_id = leaves.find_by_record_id(s, [x.record_id or "" for x in stored])
        by_hash = leaves.find_by_hash(s, [x.leaf_hash for x in stored])
    assert len(stored) == 300
    for leaf in stored:  # every leaf is found by its record id and by its hash, once
        ref = leaves.LeafRef(leaf.batch_id, leaf.leaf_index)
        assert by_id[leaf.record_id or ""] == [ref]
        assert by_hash[leaf.leaf_hash] == [ref]

    # The same 300 ids again, with 100 new ones: the prepared keys' claim fails, and
    # only the new records are stored.
    write_csv(first_rows + list(synthetic_rows(100, seed=6, invalid_ratio=0.0)),
              tmp_path / "second.csv")  # fmt: skip
    second = ledger.submitter().submit(tmp_path / "second.csv")
    assert second.accepted == 100
    assert {(r.field, r.reason) for r in second.rejections} == {
        ("report_id", "duplicate record id: already submitted")
    }
    assert len(second.rejections) == 300
    with ledger.store.session() as s:
        assert leaves.record_count(s) == 400
        assert not leaves.duplicate_record_ids(s)
