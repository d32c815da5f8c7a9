"""Which chain a data dir's settings name, opened, and how many confirmations it needs."""

from __future__ import annotations

from typing import Final

from eth_account import Account

from ledger.chain.connection import Chain
from ledger.chain.signer import load_account
from ledger.config import Settings

#: Development nodes that mine a block only when a transaction arrives (anvil and
#: Hardhat: 31337; geth --dev and Ganache: 1337): on a quiet one, a confirmation
#: would never come, and there is nothing to reorganise.
DEV_CHAIN_IDS: Final = frozenset({31337, 1337})
#: Any other JSON-RPC network, unless LEDGER_CONFIRMATIONS says otherwise: 12 blocks
#: is the depth past which a reorg on proof-of-work or Clique networks is taken as
#: practically impossible, and costs a permissioned QBFT/IBFT network (blocks every
#: 1-5 s, final at once) under a minute. On QBFT, 0 is safe and faster.
NETWORK_CONFIRMATIONS: Final = 12


def default_confirmations(kind: str, chain_id: int) -> int:
    """Blocks on top of an anchor's block before its batch counts, when not set."""
    if kind == "eth-tester" or chain_id in DEV_CHAIN_IDS:
        return 0  # the embedded chain cannot reorganise; dev nodes: see DEV_CHAIN_IDS
    return NETWORK_CONFIRMATIONS


def open_chain(settings: Settings, *, holder: str | None = None, read_only: bool = False) -> Chain:
    """The chain the settings name: JSON-RPC when ``rpc_url`` is set (one URL, or several
    of one chain, comma-separated), else the embedded one.

    ``read_only`` callers get a throwaway signer: no key file is created for them.
    """
    if settings.rpc_url:
        chain = Chain.json_rpc(
            settings.rpc_url,
            Account.create() if read_only else load_account(settings.data_dir),
            receipt_timeout=settings.receipt_timeout,
            request_timeout=settings.request_timeout,
        )
        chain.read_only = read_only
    else:
        chain = Chain.embedded(settings.data_dir, holder=holder, read_only=read_only)
    chain.confirmations = (
        default_confirmations(chain.kind, chain.chain_id)
        if settings.confirmations is None
        else settings.confirmations
    )
    return chain
