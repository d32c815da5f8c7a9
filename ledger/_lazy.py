"""A package's public names, imported on first use (PEP 562 ``__getattr__``).

Importing ``ledger.chain`` (or ``ledger.consent``, ``ledger.audit``) for one light
submodule, such as its errors, no longer loads web3, eth-account and py-evm,
which take seconds: a command that does not touch the chain starts at once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def exports(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name of ``where`` from its module."""
    namespace = importlib.import_module(package).__dict__

    def lookup(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # found directly from now on
        return value

    return lookup
