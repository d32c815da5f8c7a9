"""JSON-RPC specifics: unreachable nodes, receipt timeouts, confirmations, redaction."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from ledger.chain import Chain, open_chain
from ledger.chain.errors import ChainUnavailableError, TransactionTimeoutError
from ledger.chain.failures import redact_url
from ledger.chain.signer import load_account
from ledger.config import Settings
from tests.conftest import WAIT_SECONDS, AnvilNode, free_port, rpc, rpc_chain


def test_unreachable_node_fails_fast_without_leaking_the_url_secret(data_dir: Path) -> None:
    url = f"http://user:pw@127.0.0.1:{free_port()}/v1/key-abc123?token=zzz"
    with pytest.raises(ChainUnavailableError) as info:
        Chain.json_rpc(url, load_account(data_dir), request_timeout=2)
    text = info.value.diagnostics()
    assert "127.0.0.1" in text
    for secret in ("pw", "key-abc123", "zzz", "user"):
        assert secret not in text


def test_redact_url_keeps_only_scheme_host_port() -> None:
    assert redact_url("https://u:p@node.example:8545/abc?k=v") == "https://node.example:8545"


@pytest.mark.rpc
def test_settings_pick_the_rpc_backend(anvil: AnvilNode, data_dir: Path) -> None:
    anvil.fund(load_account(data_dir).address)
    with open_chain(Settings(data_dir=data_dir, rpc_url=anvil.url)) as chain:
        assert chain.kind == "json-rpc"
        assert chain.chain_id == 31337


@pytest.mark.rpc
def test_confirmations_wait_for_later_blocks(anvil: AnvilNode, data_dir: Path) -> None:
    chain = rpc_chain(anvil, data_dir)
    chain.confirmations, chain.receipt_timeout, chain.poll_interval = 2, 1.0, 0.05
    with pytest.raises(TransactionTimeoutError) as info:
        # automine makes the transaction's block, never two more
        chain.transfer("0x" + "11" * 20, 1, confirmed=True)
    assert info.value.tx_hash.startswith("0x")

    chain.receipt_timeout = WAIT_SECONDS
    stop = threading.Event()

    def mine() -> None:
        while not stop.is_set():
            rpc(anvil.url, "evm_mine", [])
            time.sleep(0.1)

    miner = threading.Thread(target=mine, daemon=True)
    miner.start()
    try:
        receipt = chain.transfer("0x" + "11" * 20, 1, confirmed=True)
    finally:
        stop.set()
        miner.join()
    assert chain.block_number() - receipt["blockNumber"] >= 2


@pytest.mark.rpc
def test_a_node_that_goes_away_is_unavailable(tmp_path: Path, data_dir: Path) -> None:
    node = AnvilNode(tmp_path / "anvil.log")
    chain = rpc_chain(node, data_dir)
    node.stop()
    with pytest.raises(ChainUnavailableError):
        chain.block_number()


@pytest.mark.rpc
def test_a_conflict_inside_one_block_is_still_decoded(tmp_path: Path, data_dir: Path) -> None:
    """Two anchors of one batch id mined in the same block: the loser learns why."""
    from ledger.chain import deploy
    from ledger.chain.errors import BatchAlreadyAnchored

    node = AnvilNode(tmp_path / "anvil.log")  # its own node: automine is switched off
    try:
        chain = rpc_chain(node, data_dir)
        deployment, _ = deploy(chain, data_dir)
        contract = chain.contract("AnchorRegistry", deployment.anchor_registry)
        rpc(node.url, "evm_setAutomine", [False])
        nonce = chain.w3.eth.get_transaction_count(chain.address, "pending")
        txs = []
        for k in range(2):
            fn = contract.functions.anchor(b"\x11" * 32, bytes([0x22 + k]) * 32, 3, 1, b"\x33" * 32)
            tx = fn.build_transaction(
                {
                    "from": chain.address,
                    "nonce": nonce + k,
                    "chainId": chain.chain_id,
                    "gas": 300000,
                }
            )
            chain.w3.eth.send_raw_transaction(chain.account.sign_transaction(tx).raw_transaction)
            txs.append(tx)
        rpc(node.url, "evm_mine", [])
        block = chain.w3.eth.get_block("latest")
        receipts = [chain.w3.eth.get_transaction_receipt(h) for h in block["transactions"]]
        assert [r["status"] for r in receipts] == [1, 0]
        with pytest.raises(BatchAlreadyAnchored) as info:
            chain._raise_failed(txs[1], receipts[1])
        assert info.value.batch_id == b"\x11" * 32
    finally:
        node.stop()
