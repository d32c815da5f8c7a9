"""K confirmations and reorgs, on a real anvil that mines only when told (``evm_mine``).

A batch whose anchor is mined but not yet ``confirmations`` blocks deep is
*confirming*: verify says pending and no bundle is made. A reorg that drops the
anchor's block (``evm_snapshot`` / ``evm_revert``, or ``anvil_reorg``) sends the
batch back to pending; it is anchored again, once, and the audit reports the
dropped anchor.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import select

from ledger.anchoring import bundle_for
from ledger.audit import AuditTarget, audit
from ledger.chain import Chain, Deployment, deploy
from ledger.chain.registry import AnchorRegistryClient
from ledger.config import Settings
from ledger.errors import ConflictError
from ledger.records import synthetic_rows, write_jsonl
from ledger.store import AnchorTx, Batch, Store, leaves
from ledger.verify import verify_leaf_hashes
from ledger.wiring import Ledger
from tests.conftest import COMMAND_TIMEOUT, AnvilNode, ledger_cli, rpc, rpc_chain

pytestmark = pytest.mark.rpc

K = 2


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    """An anvil of this module's own: the tests rewind its chain."""
    node = AnvilNode(tmp_path_factory.mktemp("anvil") / "anvil.log")
    yield node
    node.stop()


@pytest.fixture
def ledger(node: AnvilNode, data_dir: Path, tmp_path: Path) -> Iterator[Ledger]:
    deploy(rpc_chain(node, data_dir), data_dir)
    settings = Settings(
        data_dir=data_dir, rpc_url=node.url, confirmations=K, confirm_wait=0, batch_size=10
    )
    with Ledger.open(settings, holder="pytest") as opened:
        yield opened


def submit_one_batch(ledger: Ledger, tmp_path: Path) -> Any:
    source = tmp_path / "rows.jsonl"
    write_jsonl(synthetic_rows(10, seed=3, invalid_ratio=0), source)
    (batch,) = ledger.submitter().submit(source).batches
    return batch


def mine(node: AnvilNode, blocks: int) -> None:
    for _ in range(blocks):
        rpc(node.url, "evm_mine", [])


def status(ledger: Ledger, batch_id: str) -> str:
    with ledger.store.session() as s:
        return s.get_one(Batch, batch_id).status


def a_leaf(ledger: Ledger, batch_id: str) -> bytes:
    with ledger.store.session() as s:
        return leaves.batch_hashes(s, batch_id)[0]


def test_a_batch_counts_as_anchored_only_k_blocks_deep(
    ledger: Ledger, node: AnvilNode, tmp_path: Path
) -> None:
    batch = submit_one_batch(ledger, tmp_path)
    assert batch.status == "confirming"
    leaf = a_leaf(ledger, batch.batch_id)
    assert verify_leaf_hashes(ledger.store, [leaf])["results"][0]["status"] == "pending"
    with pytest.raises(ConflictError, match="awaits the chain's confirmations"):
        bundle_for(ledger.store, "0x" + leaf.hex())

    mine(node, K - 1)
    assert ledger.outbox.confirm() == ([], [])
    assert status(ledger, batch.batch_id) == "confirming"
    mine(node, 1)
    assert ledger.outbox.confirm() == ([batch.batch_id], [])
    assert status(ledger, batch.batch_id) == "anchored"
    assert verify_leaf_hashes(ledger.store, [leaf])["results"][0]["status"] == "anchored"
    assert bundle_for(ledger.store, "0x" + leaf.hex()).anchor.tx_hash.hex() == batch.tx_hash[2:]


@pytest.mark.parametrize("how", ["revert", "anvil_reorg"])
def test_a_reorg_that_drops_the_anchor_block_sends_the_batch_again(
    ledger: Ledger, node: AnvilNode, data_dir: Path, tmp_path: Path, how: str
) -> None:
    snapshot = rpc(node.url, "evm_snapshot", [])
    batch = submit_one_batch(ledger, tmp_path)
    assert batch.status == "confirming"
    with ledger.store.session() as s:
        first = s.scalars(select(AnchorTx).where(AnchorTx.batch_id == batch.batch_id)).one()
    if how == "revert":
        rpc(node.url, "evm_revert", [snapshot])  # the anchor's block (and tx) are gone
        mine(node, K + 1)  # a longer chain without it
    else:
        rpc(node.url, "anvil_reorg", [1, []])  # the anchor's block replaced by an empty one
        mine(node, K)

    assert ledger.outbox.confirm() == ([], [batch.batch_id])
    assert status(ledger, batch.batch_id) == "pending"
    (again,) = list(ledger.outbox.drain())
    assert again.status == "confirming"
    mine(node, K)
    assert ledger.outbox.confirm() == ([batch.batch_id], [])

    with ledger.store.session() as s:
        txs = list(s.scalars(select(AnchorTx).where(AnchorTx.batch_id == batch.batch_id)))
        row = s.get_one(Batch, batch.batch_id)
    assert [t.dropped_at is not None for t in txs] == [True, False]
    assert txs[0].block_hash == first.block_hash and txs[1].block_hash != first.block_hash
    assert row.status == "anchored" and row.tx_hash == txs[1].tx_hash

    report = _audit(node, data_dir, ledger.store)
    (finding,) = [f for f in report.findings if f.code == "ANCHOR_REORGED"]
    assert finding.batch_id == batch.batch_id
    assert finding.found == f"{first.tx_hash}@{first.block_number}"
    assert finding.expected == f"{row.tx_hash}@{row.block_number}"
    assert report.clean, [f.to_json() for f in report.failing]
    assert report.chain and _anchor_count(node, data_dir) == 1


def _audit(node: AnvilNode, data_dir: Path, store: Store) -> Any:
    deployment = Deployment.load(data_dir / "deployment.json")
    with Chain.json_rpc(node.url, Account.create()) as chain:
        chain.read_only = True
        report, _ = audit(chain, AuditTarget.of(deployment), store=store)
    return report


def _anchor_count(node: AnvilNode, data_dir: Path) -> int:
    deployment = Deployment.load(data_dir / "deployment.json")
    with Chain.json_rpc(node.url, Account.create()) as chain:
        return AnchorRegistryClient.from_deployment(chain, deployment).anchor_count()


@pytest.mark.slow
def test_the_cli_leaves_a_batch_confirming_and_a_later_run_confirms_it(
    node: AnvilNode, data_dir: Path, tmp_path: Path, clean_env: None
) -> None:
    """``ledger submit`` sends from its chain helper process: the confirmation check goes
    through it too."""
    deploy(rpc_chain(node, data_dir), data_dir)
    source = tmp_path / "rows.jsonl"
    write_jsonl(synthetic_rows(10, seed=4, invalid_ratio=0), source)
    env = {
        **os.environ,
        "LEDGER_DATA_DIR": str(data_dir),
        "LEDGER_RPC_URL": node.url,
        "LEDGER_CONFIRMATIONS": "1",
        "LEDGER_CONFIRM_WAIT": "0",
    }

    def submit() -> dict[str, Any]:
        run = subprocess.run(
            [ledger_cli(), "submit", str(source), "--json"],
            env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        return dict(json.loads(run.stdout))

    (batch,) = submit()["batches"]
    assert batch["status"] == "confirming"
    mine(node, 1)
    again = submit()
    assert again["already_complete"]
    store = Store.open(data_dir)
    try:
        with store.session() as s:
            assert s.get_one(Batch, batch["batch_id"]).status == "anchored"
    finally:
        store.close()
