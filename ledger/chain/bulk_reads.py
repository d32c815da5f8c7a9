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

#: eth_calls (or block headers) per JSON-RPC batch (nodes cap batches; geth allows 1000).
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


def block_times(chain: Chain, blocks: Sequence[int]) -> dict[int, int]:
    """The timestamp (seconds) of each block in ``blocks``, from its header.

    One header per block, however many anchors it holds; on a node, one JSON-RPC
    batch of ``eth_getBlockByNumber`` per :data:`CALL_BATCH` blocks.
    """
    out: dict[int, int] = {}
    if chain.kind == "eth-tester":  # in process: a header costs no round trip
        for number in blocks:
            header = chain.block_header(number)
            if header is None:
                raise ChainError(f"block {number} is not on chain")
            out[number] = int(header["timestamp"])
        return out
    for start in range(0, len(blocks), CALL_BATCH):
        part = blocks[start : start + CALL_BATCH]
        answers = _batch(
            chain, [(RPCEndpoint("eth_getBlockByNumber"), [hex(n), False]) for n in part]
        )
        if not isinstance(answers, list) or any(
            a.get("error") or not a.get("result") for a in answers
        ):
            raise ChainError("a batch of eth_getBlockByNumber failed on the node")
        # A batch's answers may come in any order: each is matched by its own number.
        for answer in answers:
            header = answer["result"]
            out[int(header["number"], 16)] = int(header["timestamp"], 16)
    if set(out) != set(blocks):
        raise ChainError("the node answered for other blocks than asked")
    return out


def _batch(chain: Chain, requests: list[tuple[RPCEndpoint, Any]]) -> Any:
    provider = cast(FailoverProvider, chain.w3.provider)
    return chain.guarded(lambda: provider.make_batch_request(requests))


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
    out: list[bytes] = []
    for start in range(0, len(calls), CALL_BATCH):
        answers = _batch(
            chain,
            [
                (RPCEndpoint("eth_call"), [{"to": to.lower(), "data": hx}, hex(block)])
                for hx in ("0x" + d.hex() for d in calls[start : start + CALL_BATCH])
            ],
        )
        if not isinstance(answers, list) or any(a.get("error") for a in answers):
            raise ChainError("a batch of eth_call failed on the node")
        out += [bytes.fromhex(str(a["result"])[2:]) for a in answers]
    return out
