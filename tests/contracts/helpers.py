"""Helpers shared by the contract tests: ids, signers, exact event and revert checks."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.chain import Chain
from ledger.chain.errors import ContractRevert

ZERO32 = bytes(32)
DEFAULT_ADMIN_ROLE = ZERO32
ZERO_ADDRESS = "0x" + "00" * 20
#: Generous for every registry call; unused gas is refunded.
FIXED_GAS = 500_000


def b32(label: str) -> bytes:
    """A deterministic, distinct, non-zero bytes32 for ``label``."""
    return keccak(text=label)


def funded_signer(chain: Chain, wei: int = 10**18) -> Chain:
    """The same chain signing as a fresh account that holds ``wei`` and no role."""
    signer = chain.with_signer(Account.create())
    chain.transfer(signer.address, wei)
    return signer


def decoded(contract: Contract, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
    """Every log of ``receipt``, which must all be ``name`` events from ``contract``."""
    logs = contract.events[name]().process_receipt(receipt, errors=DISCARD)
    assert len(logs) == len(receipt["logs"]), f"the receipt holds logs other than {name}"
    for log in logs:
        assert log["address"] == contract.address
        assert log["event"] == name
    return [dict(log["args"]) for log in logs]


def only_event(contract: Contract, receipt: TxReceipt, name: str) -> dict[str, Any]:
    """The arguments of the one and only log of ``receipt``, a ``name`` event."""
    events = decoded(contract, receipt, name)
    assert len(events) == 1, f"expected exactly one {name}, got {len(events)}"
    return events[0]


def assert_reverts(
    error: type[ContractRevert], values: dict[str, Any], action: Any, *args: Any
) -> None:
    """``action(*args)`` raises exactly ``error`` with exactly these Solidity arguments."""
    with pytest.raises(ContractRevert) as info:
        action(*args)
    assert type(info.value) is error, f"expected {error.__name__}, got {info.value!r}"
    assert info.value.values == values


def block_of(chain: Chain, receipt: TxReceipt) -> tuple[int, int]:
    """Number and timestamp of the block that mined ``receipt``."""
    block = chain.w3.eth.get_block(receipt["blockNumber"])
    return int(block["number"]), int(block["timestamp"])


def send_unestimated(chain: Chain, fn: ContractFunction) -> TxReceipt:
    """Send ``fn`` with a fixed gas limit, so a revert is mined instead of caught in estimation."""
    nonce = chain.w3.eth.get_transaction_count(chain.account.address, "pending")
    tx = fn.build_transaction(
        {"from": chain.account.address, "nonce": nonce, "chainId": chain.chain_id, "gas": FIXED_GAS}
    )
    return chain.send(tx)


def last_block_failed_tx(chain: Chain) -> None:
    """The latest block holds exactly one transaction, and it failed (status 0)."""
    block = chain.w3.eth.get_block("latest")
    (tx_hash,) = block["transactions"]
    assert isinstance(tx_hash, HexBytes)  # hashes, not full transactions
    receipt = chain.w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 0
    assert receipt["logs"] == []
