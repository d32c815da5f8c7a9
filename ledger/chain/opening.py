"""Which chain a data dir's settings name, opened."""

from __future__ import annotations

from eth_account import Account

from ledger.chain.connection import Chain
from ledger.chain.signer import load_account
from ledger.config import Settings


def open_chain(settings: Settings, *, holder: str | None = None, read_only: bool = False) -> Chain:
    """The chain the settings name: JSON-RPC when ``rpc_url`` is set, else the embedded one.

    ``read_only`` callers get a throwaway signer: no key file is created for them.
    """
    if settings.rpc_url:
        chain = Chain.json_rpc(
            settings.rpc_url,
            Account.create() if read_only else load_account(settings.data_dir),
            confirmations=settings.confirmations,
            receipt_timeout=settings.receipt_timeout,
            request_timeout=settings.request_timeout,
        )
        chain.read_only = read_only
        return chain
    return Chain.embedded(settings.data_dir, holder=holder, read_only=read_only)
