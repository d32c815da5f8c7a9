"""The chain layer: compiled registries, one :class:`Chain` over two backends, deploy.

Public: :class:`Chain`, :func:`open_chain`, :func:`deploy`, :class:`Deployment`,
the typed errors in :mod:`ledger.chain.errors` and the registry clients.

The names load on first use (:mod:`ledger._lazy`): ``ledger.chain.errors``,
``ledger.chain.types`` and :mod:`ledger.chain.deploy` import no web3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger import _lazy

# Light, and imported here so that the function ``deploy`` is what the package's
# name ``deploy`` means (importing the submodule would otherwise bind the module).
from ledger.chain.deploy import Deployment, check_deployment, deploy

if TYPE_CHECKING:
    from ledger.chain.connection import Chain
    from ledger.chain.opening import open_chain

__all__ = ["Chain", "Deployment", "check_deployment", "deploy", "open_chain"]

__getattr__ = _lazy.exports(
    __name__,
    {
        "Chain": "ledger.chain.connection",
        "open_chain": "ledger.chain.opening",
    },
)
