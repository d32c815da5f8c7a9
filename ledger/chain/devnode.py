"""Funding the data dir's account on a local development node (anvil, Hardhat).

``ledger deploy --fund-from-dev-node`` exists so that the README's anvil commands work
as written: a fresh data dir's account holds nothing, and a development node lets
anyone set any balance with ``anvil_setBalance`` or ``hardhat_setBalance``. No real
network answers those methods, which is what makes them the test of "development
node": the option is refused anywhere else, before anything is sent.

Why this and not anvil's printed development keys through ``LEDGER_CHAIN_KEY``: those
keys are public, and the account that deploys is the one that holds the registries'
roles, so every later command would need the same variable; forgetting it once
signs with the data dir's key and fails on a missing role. Setting a balance is no
transaction: the node still never signs for us.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.chain.errors import NotADevNodeError
from ledger.chain.failures import redact_url

if TYPE_CHECKING:
    from ledger.chain.connection import Chain

#: Methods that set an account's balance, in the order tried: anvil answers both,
#: Hardhat Network the second.
SET_BALANCE_METHODS = ("anvil_setBalance", "hardhat_setBalance")
#: What the account is topped up to: what anvil gives each of its own accounts (wei).
DEV_BALANCE = 10_000 * 10**18


def fund_from_dev_node(chain: Chain, *, balance: int = DEV_BALANCE) -> str:
    """Top the chain's signing account up to ``balance`` (never down); the method used.

    Raises :class:`NotADevNodeError` unless the node is a development node that
    really set the balance.
    """
    if chain.kind != "json-rpc":
        raise NotADevNodeError(
            "--fund-from-dev-node needs a JSON-RPC development node (--rpc URL)",
            hint="the embedded chain funds its account by itself",
        )
    target = max(_balance(chain), balance)  # set even when enough: the call is the probe
    for method in SET_BALANCE_METHODS:
        if "error" not in chain.raw_request(method, [chain.address, hex(target)]):
            break
    else:
        raise _refused(chain, "it answers neither " + " nor ".join(SET_BALANCE_METHODS))
    if _balance(chain) < target:
        raise _refused(chain, f"it answered {method} but the balance did not change")
    return method


def _balance(chain: Chain) -> int:
    answer = chain.raw_request("eth_getBalance", [chain.address, "latest"])
    try:
        return int(answer["result"], 16)
    except (KeyError, TypeError, ValueError):
        raise _refused(chain, "it did not answer eth_getBalance") from None


def _refused(chain: Chain, why: str) -> NotADevNodeError:
    where = redact_url(chain.rpc_url or "")
    return NotADevNodeError(
        f"the node at {where} (chain {chain.chain_id}) is not a development node: {why}",
        hint=(
            "--fund-from-dev-node is only for a local anvil or Hardhat node; on another "
            f"network fund {chain.address} from its faucet or genesis account"
        ),
    )
