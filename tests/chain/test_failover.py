"""Several JSON-RPC URLs of one chain: fail-over, the chain-id check, redaction.

Two URLs of one chain are anvil itself and a relay in front of it
(:mod:`tests._rpc_proxy`) that a test takes down mid-run: a node that stops
answering, with the chain going on behind the other URL.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from eth_account import Account

from ledger.chain import Chain, Deployment, deploy
from ledger.chain.errors import ChainUnavailableError
from ledger.chain.failover import RETRY_ROUNDS, split_urls
from ledger.chain.registry import AnchorRegistryClient
from ledger.errors import ConfigurationError
from ledger.records import synthetic_rows, write_jsonl
from ledger.store import Batch, Store
from tests._rpc_proxy import rpc_proxy
from tests._stubnode import stub_node
from tests.conftest import COMMAND_TIMEOUT, AnvilNode, free_port, ledger_cli, rpc_chain

pytestmark = pytest.mark.rpc

SECRET = "k3y-s3cret"


def test_urls_split_on_commas_and_repeat_once() -> None:
    assert split_urls(" http://a:1 ,http://b:2,,http://a:1") == ("http://a:1", "http://b:2")
    assert split_urls(["http://a:1", "http://b:2,http://c:3"]) == (
        "http://a:1",
        "http://b:2",
        "http://c:3",
    )


def test_a_dead_first_url_is_passed_over(anvil: AnvilNode) -> None:
    dead = f"http://127.0.0.1:{free_port()}/{SECRET}"
    with Chain.json_rpc(f"{dead},{anvil.url}", Account.create(), request_timeout=5) as chain:
        assert chain.chain_id == 31337
        assert chain.rpc_url == anvil.url
        assert chain.block_number() >= 0


def test_no_url_answering_names_each_redacted() -> None:
    urls = [f"http://user:pw@127.0.0.1:{free_port()}/{SECRET}?token=zzz" for _ in range(2)]
    with pytest.raises(ChainUnavailableError) as info:
        Chain.json_rpc(",".join(urls), Account.create(), request_timeout=2)
    text = info.value.diagnostics()
    for url in urls:
        assert url.split("@")[1].split("/")[0] in text  # host:port of each
    for secret in (SECRET, "pw", "zzz", "user"):
        assert secret not in text


def test_urls_of_two_chains_are_refused_at_open(anvil: AnvilNode) -> None:
    with stub_node() as other, pytest.raises(ConfigurationError) as info:
        Chain.json_rpc(f"{anvil.url},{other.url}/{SECRET}", Account.create())
    text = info.value.diagnostics()
    assert "31337" in text and "-> 1" in text
    assert SECRET not in text


def test_a_node_unreachable_at_open_is_checked_before_it_serves(anvil: AnvilNode) -> None:
    """The second URL is down at open; when it comes up on another chain and the first
    goes down, it is refused instead of being written to."""
    port = free_port()
    with rpc_proxy(anvil.url, down_after="eth_blockNumber") as first:
        chain = Chain.json_rpc(f"{first.url},http://127.0.0.1:{port}", Account.create())
        assert chain.block_number() >= 0  # answered by the first, which then goes down
        assert first.down.is_set()
        with stub_node(port=port) as other, pytest.raises(ConfigurationError) as info:
            chain.block_number()
        assert "chain 1, not 31337" in info.value.message
        assert other.methods == ["eth_chainId"]


@pytest.mark.parametrize("blips", [1, 2])
def test_a_blip_of_the_only_node_is_ridden_out(anvil: AnvilNode, blips: int) -> None:
    """No node answering is tried again after a pause, RETRY_ROUNDS times."""
    assert blips <= RETRY_ROUNDS
    with rpc_proxy(anvil.url) as only:
        chain = Chain.json_rpc(only.url, Account.create())
        only.drop_next = blips
        assert chain.block_number() >= 0
        assert only.drop_next == 0


def test_a_node_down_past_the_retries_is_unavailable(anvil: AnvilNode) -> None:
    with rpc_proxy(anvil.url) as only:
        chain = Chain.json_rpc(only.url, Account.create())
        only.drop_next = RETRY_ROUNDS + 1
        with pytest.raises(ChainUnavailableError):
            chain.block_number()
        assert only.drop_next == 0  # every round asked it
        assert chain.block_number() >= 0


def test_a_call_moves_to_the_next_url_when_its_node_goes_down(
    anvil: AnvilNode, data_dir: Path
) -> None:
    with rpc_proxy(anvil.url, down_after="eth_blockNumber") as first:
        account = rpc_chain(anvil, data_dir).account
        chain = Chain.json_rpc(f"{first.url},{anvil.url}", account)
        head = chain.block_number()  # the first URL answers, then goes down
        assert first.down.is_set()
        receipt = chain.transfer("0x" + "11" * 20, 1)  # every call now on the second
        assert receipt["blockNumber"] > head
        assert chain.rpc_url == anvil.url
        assert "eth_sendRawTransaction" not in first.methods


def test_a_transaction_the_lost_node_never_passed_on_is_sent_again(
    anvil: AnvilNode, data_dir: Path
) -> None:
    """The first node takes the signed transaction and dies before passing it on: the
    receipt never comes from the second unless the same transaction goes to it too."""
    with rpc_proxy(anvil.url, down_after="eth_sendRawTransaction", swallow=True) as first:
        account = rpc_chain(anvil, data_dir).account
        chain = Chain.json_rpc(f"{first.url},{anvil.url}", account, receipt_timeout=30)
        nonce = chain.w3.eth.get_transaction_count(account.address)
        receipt = chain.transfer("0x" + "11" * 20, 1)
    assert first.down.is_set()
    assert receipt["status"] == 1
    assert chain.w3.eth.get_transaction(receipt["transactionHash"])["nonce"] == nonce


@pytest.mark.slow
def test_one_of_two_urls_going_down_mid_submission_leaves_anchoring_going(
    anvil: AnvilNode, data_dir: Path, tmp_path: Path, clean_env: None
) -> None:
    """Acceptance (issue 20): ``ledger submit --rpc A,B``; A goes down right after it
    took the first anchor's transaction. Every batch is anchored, once."""
    deployment, _ = deploy(rpc_chain(anvil, data_dir), data_dir)
    source = tmp_path / "rows.jsonl"
    write_jsonl(synthetic_rows(30, seed=5, invalid_ratio=0), source)
    with (
        rpc_proxy(anvil.url, down_after="eth_sendRawTransaction") as a,
        rpc_proxy(anvil.url) as b,
    ):
        urls = f"{a.url}/{SECRET},{b.url}/{SECRET}"
        run = subprocess.run(
            [ledger_cli(), "submit", str(source), "--rpc", urls, "--json"],
            env={**os.environ, "LEDGER_DATA_DIR": str(data_dir), "LEDGER_BATCH_SIZE": "10"},
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert [b["status"] for b in report["batches"]] == ["anchored"] * 3
    assert a.down.is_set()
    assert a.methods.count("eth_sendRawTransaction") == 1
    assert b.methods.count("eth_sendRawTransaction") >= 2  # the later anchors (and a re-send)
    assert "rpc failover" in run.stderr
    assert SECRET not in run.stderr + run.stdout
    _assert_anchored_once(anvil, data_dir, deployment, [b["batch_id"] for b in report["batches"]])


def _assert_anchored_once(
    anvil: AnvilNode, data_dir: Path, deployment: Deployment, batch_ids: list[str]
) -> None:
    with Chain.json_rpc(anvil.url, Account.create()) as chain:
        registry = AnchorRegistryClient.from_deployment(chain, deployment)
        assert registry.anchor_count() == len(batch_ids)
        for batch_id in batch_ids:
            assert registry.anchor_by_batch(bytes.fromhex(batch_id[2:])) is not None
    store = Store.open(data_dir)
    try:
        with store.session() as s:
            assert {b.status for b in s.query(Batch)} == {"anchored"}
    finally:
        store.close()
