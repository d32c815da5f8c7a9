"""``ledger verify`` only reads: no key file appears and the chain does not move."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ledger.anchoring.bundles import bundle_for
from ledger.chain import Chain, deploy
from ledger.config import Settings
from ledger.proofs import bundle_text
from ledger.records import synthetic_rows, write_csv
from ledger.wiring import Ledger
from tests._leaves import all_leaves
from tests.conftest import COMMAND_TIMEOUT, ledger_cli


def test_verify_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "platform"
    data.mkdir(mode=0o700)
    with Chain.embedded(data) as chain:
        deploy(chain, data)
    portfolio = tmp_path / "p.csv"
    write_csv(synthetic_rows(12, seed=3), portfolio)
    with Ledger.open(Settings(data_dir=data, batch_size=50)) as ledger:
        report = ledger.submitter().submit(portfolio)
        with ledger.store.session() as s:
            leaf = next(x.record_id for x in all_leaves(s))
        assert leaf is not None
        bundle = bundle_for(ledger.store, leaf)
    assert report.accepted > 0
    (tmp_path / "b.json").write_text(bundle_text(bundle))
    # The bank's copy of the chain: the chain files only, no key, no store.
    bank = tmp_path / "bank"
    shutil.copytree(data / "chain", bank / "chain")
    with Chain.embedded(bank, read_only=True) as chain:
        before = chain.block_number()
    done = subprocess.run(
        [ledger_cli(), "verify", str(tmp_path / "b.json"), "--data-dir", str(bank)],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert "VALID" in done.stdout
    assert sorted(p.name for p in bank.iterdir()) == ["chain"]
    with Chain.embedded(bank, read_only=True) as chain:
        assert chain.block_number() == before
