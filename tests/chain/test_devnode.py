"""Funding the signing account from a development node, and refusing on any other node."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from ledger.chain import Chain
from ledger.chain.devnode import DEV_BALANCE, fund_from_dev_node
from ledger.chain.errors import NotADevNodeError
from tests._stubnode import stub_node
from tests.conftest import AnvilNode


def _chain(url: str) -> Chain:
    return Chain.json_rpc(url, Account.create(), receipt_timeout=30)


@pytest.mark.rpc
def test_anvil_tops_the_account_up(anvil: AnvilNode) -> None:
    chain = _chain(anvil.url)
    assert chain.w3.eth.get_balance(chain.account.address) == 0
    assert fund_from_dev_node(chain) == "anvil_setBalance"
    assert chain.w3.eth.get_balance(chain.account.address) == DEV_BALANCE
    chain.transfer("0x" + "11" * 20, 1)  # and it can pay for gas now


@pytest.mark.rpc
def test_a_richer_account_is_never_lowered(anvil: AnvilNode) -> None:
    chain = _chain(anvil.url)
    anvil.fund(chain.account.address, 3 * DEV_BALANCE)
    fund_from_dev_node(chain)
    assert chain.w3.eth.get_balance(chain.account.address) == 3 * DEV_BALANCE


def test_a_hardhat_node_is_funded_through_hardhat_set_balance() -> None:
    with stub_node(honours="hardhat_setBalance") as node:
        assert fund_from_dev_node(_chain(node.url)) == "hardhat_setBalance"
    assert node.balance == DEV_BALANCE
    assert node.methods.count("anvil_setBalance") == 1  # tried first, refused


def test_a_node_without_set_balance_is_refused_and_sent_nothing() -> None:
    with stub_node() as node, pytest.raises(NotADevNodeError) as caught:
        fund_from_dev_node(_chain(node.url))
    assert "is not a development node" in caught.value.message
    assert "neither anvil_setBalance nor hardhat_setBalance" in caught.value.message
    assert "eth_sendRawTransaction" not in node.methods
    assert node.balance == 0


def test_a_node_that_only_pretends_to_set_the_balance_is_refused() -> None:
    with stub_node(ignores="anvil_setBalance") as node, pytest.raises(NotADevNodeError) as caught:
        fund_from_dev_node(_chain(node.url))
    assert "answered anvil_setBalance but the balance did not change" in caught.value.message


def test_the_embedded_chain_is_refused(data_dir: Path) -> None:
    chain = Chain.embedded(data_dir, holder="pytest")
    try:
        with pytest.raises(NotADevNodeError, match="needs a JSON-RPC development node"):
            fund_from_dev_node(chain)
    finally:
        chain.close()
