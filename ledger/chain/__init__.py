"""The chain layer: compiled registries, one :class:`Chain` over two backends, deploy.

Public: :class:`Chain`, :func:`open_chain`, :func:`deploy`, :class:`Deployment`,
the typed errors in :mod:`ledger.chain.errors` and the registry clients.
"""

from __future__ import annotations

from ledger.chain.connection import Chain
from ledger.chain.deploy import Deployment, check_deployment, deploy
from ledger.chain.signer import load_account
from ledger.config import Settings

__all__ = ["Chain", "Deployment", "check_deployment", "deploy", "open_chain"]


def open_chain(settings: Settings, *, holder: str | None = None) -> Chain:
    """The chain the settings name: JSON-RPC when ``rpc_url`` is set, else the embedded one."""
    if settings.rpc_url:
        return Chain.json_rpc(
            settings.rpc_url,
            load_account(settings.data_dir),
            confirmations=settings.confirmations,
            receipt_timeout=settings.receipt_timeout,
            request_timeout=settings.request_timeout,
        )
    return Chain.embedded(settings.data_dir, holder=holder)
