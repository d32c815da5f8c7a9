"""Reads of many logs or views at once, as the node sends them: what an audit needs.

web3's contract API costs three round trips per view and formats every log it
returns; for many thousands of them that is most of the time. These reads go
around neither the chain's signer nor its error translation: they are built on
:meth:`Chain.raw_request <ledger.chain.connection.Chain.raw_request>` and
:meth:`Chain.guarded <ledger.chain.connection.Chain.guarded>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from web3 import Web3
from web3.types import FilterParams, RPCEndpoint

from ledger.chain.errors import ChainError
from ledger.chain.failover import FailoverProvider

if TYPE_CHECKING:
    from ledger.chain.connection import Chain

#: eth_calls per JSON-RPC batch (nodes cap batches; geth allows 1000 by default).
CALL_BATCH: Final = 200


def raw_logs(chain: Chain, addresses: Sequence[str], from_block: int, to_block: int) -> list[Any]:
    """Every log the contracts at ``addresses`` emitted in ``[from_block, to_block]``.

    As the node sent them (hex strings, no web3 result formatting: for an audit of
    many thousands of logs that formatting costs twenty times the request).
    """
    if chain.kind == "eth-tester":  # in process: no JSON to skip, only web3's own API
        query: FilterParams = {
            "address": [Web3.to_checksum_address(a) for a in addresses],
            "fromBlock": from_block,
            "toBlock": to_block,
        }
        return list(chain.guarded(lambda: chain.w3.eth.get_logs(query)))
    params = {
        "address": [a.lower() for a in addresses],
        "fromBlock": hex(from_block),
        "toBlock": hex(to_block),
    }
    answer = chain.raw_request("eth_getLogs", [params])
    if answer.get("error"):
        message = str(answer["error"].get("message", answer["error"]))
        raise ChainError(f"eth_getLogs failed: {message[:300]}")
    return list(answer["result"])


def raw_calls(chain: Chain, to: str, calls: Sequence[bytes], block: int) -> list[bytes]:
    """``eth_call`` each calldata of ``calls`` on ``to`` at ``block``; the raw return data.

    On a node, one JSON-RPC batch per :data:`CALL_BATCH` calls: a web3 contract call
    costs three round trips, which for thousands of views is most of the time.
    """
    address = Web3.to_checksum_address(to)

    def one(data: bytes) -> bytes:
        return bytes(chain.guarded(lambda: chain.w3.eth.call({"to": address, "data": data}, block)))

    if chain.kind == "eth-tester":
        return [one(d) for d in calls]
    provider = cast(FailoverProvider, chain.w3.provider)

    def batch(requests: list[tuple[RPCEndpoint, Any]]) -> Any:
        return chain.guarded(lambda: provider.make_batch_request(requests))

    out: list[bytes] = []
    for start in range(0, len(calls), CALL_BATCH):
        answers = batch(
            [
                (RPCEndpoint("eth_call"), [{"to": to.lower(), "data": hx}, hex(block)])
                for hx in ("0x" + d.hex() for d in calls[start : start + CALL_BATCH])
            ]
        )
        if not isinstance(answers, list) or any(a.get("error") for a in answers):
            raise ChainError("a batch of eth_call failed on the node")
        out += [bytes.fromhex(str(a["result"])[2:]) for a in answers]
    return out
