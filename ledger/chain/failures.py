"""web3's and eth-tester's failures, turned into the typed errors of :mod:`ledger.chain.errors`.

Whatever a chain call raises (a revert, a lost connection, an account that
cannot pay, anything else a node or py-evm says) leaves :class:`~ledger.chain.Chain`
as one :class:`~ledger.chain.errors.ChainError`. Messages never carry an RPC
URL's path or query: they often hold API keys.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from eth_tester.exceptions import TransactionFailed
from eth_utils.exceptions import ValidationError as EthValidationError
from web3.exceptions import ContractLogicError, Web3Exception

from ledger.chain.errors import (
    ChainError,
    ChainUnavailableError,
    InsufficientFundsError,
    decode_revert,
)

#: What a chain call may raise that :func:`as_chain_error` translates; anything else
#: is a bug of ours and propagates as it is.
CHAIN_FAILURES: Final = (
    ContractLogicError,
    TransactionFailed,
    ConnectionError,
    OSError,
    TimeoutError,
    Web3Exception,
    ValueError,
    EthValidationError,
)
#: How nodes word "this account cannot pay": geth/anvil/Besu, and py-evm.
_NO_FUNDS = ("insufficient funds", "cannot afford")


def redact_url(url: str) -> str:
    """Scheme, host and port only: RPC URLs often carry API keys in their path or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def as_chain_error(
    exc: BaseException,
    selectors: dict[bytes, dict[str, Any]],
    *,
    rpc_urls: Sequence[str],
    payer: str,
    chain_id: int | None,
) -> ChainError:
    """The typed error for ``exc``, one of :data:`CHAIN_FAILURES`, raised by a chain call.

    ``selectors``: the custom errors of the ABIs, to decode a revert; ``payer``:
    the account that signs (and pays for) transactions on chain ``chain_id``.
    """
    if isinstance(exc, ContractLogicError):
        data = exc.data if isinstance(exc.data, str) else ""
        return decode_revert(data, selectors)
    if isinstance(exc, TransactionFailed):  # eth-tester reports reverts as a bytes repr
        return decode_revert(_tester_revert_data(exc), selectors)
    if isinstance(exc, ConnectionError | OSError | TimeoutError):
        if not rpc_urls:
            where = "the embedded chain"
        elif len(rpc_urls) == 1:
            where = redact_url(rpc_urls[0])
        else:
            where = "every JSON-RPC node (" + ", ".join(redact_url(u) for u in rpc_urls) + ")"
        return ChainUnavailableError(f"lost the connection to {where}: {type(exc).__name__}")
    text = str(exc)
    if any(sign in text.lower() for sign in _NO_FUNDS):
        return InsufficientFundsError(
            f"account {payer} cannot pay for gas on chain {chain_id}",
            hint="Fund it from the network's faucet or genesis account; on a local "
            "anvil or Hardhat node, `ledger deploy --fund-from-dev-node` does it.",
        )
    return ChainError(f"chain call failed: {text[:300]}")


def _tester_revert_data(exc: Exception) -> str:
    """The revert bytes inside an eth-tester ``TransactionFailed`` message, as hex."""
    text = str(exc.args[0]) if exc.args else ""
    starts = [i for i in (text.find("b'"), text.find('b"')) if i >= 0]
    if not starts:
        return ""
    try:
        raw = ast.literal_eval(text[min(starts) :])
    except (ValueError, SyntaxError):
        return ""
    return "0x" + raw.hex() if isinstance(raw, bytes) else ""
