"""A batch whose anchor the store holds only in part (a store rebuilt from the chain has
no block times) gets a clear error, not a crash, when a bundle or its view asks for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.anchoring.bundles import attestation, batch_view
from ledger.errors import ConfigurationError
from ledger.store import Batch, Store

BATCH = "0x" + "5a" * 32


def test_an_anchor_without_its_block_time_is_a_clear_error(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        with store.session() as s, s.begin():
            s.add(
                Batch(
                    batch_id=BATCH, kind=1, tree_size=1, root="0x" + "01" * 32, manifest="{}",
                    manifest_hash="0x" + "02" * 32, status="anchored", created_at="unknown",
                    chain_id=1337, registry_address="0x" + "03" * 20, tx_hash="0x" + "04" * 32,
                    block_number=7, seq=0,
                )
            )  # fmt: skip
        with store.session() as s:
            batch = s.get_one(Batch, BATCH)
        with pytest.raises(ConfigurationError, match="whole anchor of batch") as refused:
            attestation(batch)
        assert "--rebuild" in (refused.value.hint or "")
        with pytest.raises(ConfigurationError):
            batch_view(store, BATCH)
    finally:
        store.close()
