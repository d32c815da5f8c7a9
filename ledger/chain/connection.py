"""One interface to a chain, whatever runs it: :class:`Chain`.

``Chain.embedded(data_dir)`` opens the durable eth-tester chain in process;
``Chain.json_rpc(urls)`` talks to any Ethereum JSON-RPC node (anvil, geth, Besu,
Quorum), failing over between several URLs of one chain
(:mod:`ledger.chain.failover`). Above this line nothing knows which one it got:
every transaction is built here, signed locally with the data dir's account,
sent raw, awaited with a timeout and, when asked, a number of confirmations.
Every revert comes back as its typed exception from :mod:`ledger.chain.errors`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, cast

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import (
    BlockNotFound,
    TransactionNotFound,
)
from web3.types import (
    BlockData,
    BlockIdentifier,
    RPCEndpoint,
    TxParams,
    TxReceipt,
    Wei,
)

from ledger.chain.artifacts import Artifact, all_abis, load_artifact
from ledger.chain.errors import (
    ChainError,
    ChainUnavailableError,
    TransactionTimeoutError,
    error_selectors,
)
from ledger.chain.failover import FailoverProvider, split_urls
from ledger.chain.failures import CHAIN_FAILURES, as_chain_error
from ledger.chain.signer import load_account
from ledger.logs import event as log_event

log = logging.getLogger(__name__)

ChainKind = Literal["eth-tester", "json-rpc"]

#: Estimates are exact on a quiet chain; the margin covers state that moves between
#: estimation and inclusion. Unused gas is refunded, so the margin costs nothing.
GAS_MARGIN = 1.2
#: Gas limit of every transaction on the embedded chain, instead of an estimate:
#: py-evm estimates by a binary search (a dozen EVM runs, 3/4 of an anchor's time);
#: one dry run (eth_call) still refuses a reverting call before anything is mined,
#: and only the gas used is charged. Well below the embedded block gas limit (30M),
#: above any transaction here (deploying a registry: 0.8M).
EMBEDDED_GAS = 10_000_000
_DRY_RUN_KEYS = frozenset({"from", "to", "data", "value", "gas"})
#: The embedded signer is topped up from a genesis account below this balance (wei).
EMBEDDED_MIN_BALANCE = 100 * 10**18
EMBEDDED_TOP_UP = 10_000 * 10**18


class Chain:
    """A chain connection with a local signer."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        *,
        kind: ChainKind,
        confirmations: int = 0,
        receipt_timeout: float = 120.0,
        poll_interval: float = 0.5,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.kind: ChainKind = kind
        #: Blocks mined on top of a transaction's block before :meth:`send` returns
        #: (0: as soon as it is mined). Anchors are not held up here: the outbox
        #: tracks their confirmations itself (:mod:`ledger.anchoring.outbox`).
        self.confirmations = max(0, confirmations)
        self.receipt_timeout = receipt_timeout
        self.poll_interval = poll_interval
        self._on_close = on_close
        self.read_only = False
        self._selectors = error_selectors(all_abis())
        self.chain_id: int = self.guarded(lambda: w3.eth.chain_id)

    # -- constructors ---------------------------------------------------------------

    @classmethod
    def embedded(
        cls, data_dir: Path, *, holder: str | None = None, read_only: bool = False
    ) -> Chain:
        """Open the durable embedded chain under ``data_dir`` (exclusive to this process).

        ``read_only``: for callers that only read (``ledger verify``): no key file is
        created and nothing is written to the chain.
        """
        from eth_account import Account

        from ledger.chain.embedded import EmbeddedChain

        account = Account.create() if read_only else load_account(data_dir)
        emb = EmbeddedChain(data_dir, holder=holder)
        chain = cls(emb.w3, account, kind="eth-tester", poll_interval=0.0, on_close=emb.close)
        chain.read_only = read_only
        try:
            if not read_only:
                chain._top_up_from(emb.faucet_key)
        except BaseException:
            emb.close()
            raise
        return chain

    @classmethod
    def json_rpc(
        cls,
        urls: str | Sequence[str],
        account: LocalAccount,
        *,
        confirmations: int = 0,
        receipt_timeout: float = 120.0,
        request_timeout: float = 30.0,
    ) -> Chain:
        """Connect to the JSON-RPC nodes at ``urls`` (one chain; ``"a,b"`` or a list).

        Fails fast with :class:`ChainUnavailableError` when none answers, and with a
        :class:`~ledger.errors.ConfigurationError` when they are on different chains.
        """
        provider = FailoverProvider(split_urls(urls), request_timeout=request_timeout)
        provider.open()
        return cls(
            Web3(provider),
            account,
            kind="json-rpc",
            confirmations=confirmations,
            receipt_timeout=receipt_timeout,
        )

    def close(self) -> None:
        """Release the chain (for the embedded one: its file and lock)."""
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> Chain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------

    @property
    def rpc_urls(self) -> tuple[str, ...]:
        """The JSON-RPC URLs (unredacted: never log them); empty on the embedded chain."""
        provider = self.w3.provider
        return provider.urls if isinstance(provider, FailoverProvider) else ()

    @property
    def rpc_url(self) -> str | None:
        """The URL of the node that serves now; None on the embedded chain."""
        provider = self.w3.provider
        return provider.current_url if isinstance(provider, FailoverProvider) else None

    def _switches(self) -> int:
        provider = self.w3.provider
        return provider.switches if isinstance(provider, FailoverProvider) else 0

    @property
    def address(self) -> str:
        return str(self.account.address)

    def contract(self, artifact: Artifact | str, address: str) -> Contract:
        art = load_artifact(artifact) if isinstance(artifact, str) else artifact
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=art.abi)

    def call(self, fn: ContractFunction, block: BlockIdentifier = "latest") -> Any:
        """``eth_call`` a view; reverts come back typed."""
        # A read-only chain's throwaway signer has no funds, and some nodes (eth-tester)
        # check the caller's balance even for eth_call: leave the caller to the node.
        tx: TxParams = {} if self.read_only else {"from": self.account.address}
        return self.guarded(lambda: fn.call(tx, block_identifier=block))

    def code_at(self, address: str) -> bytes:
        return bytes(self.guarded(lambda: self.w3.eth.get_code(Web3.to_checksum_address(address))))

    def block_number(self) -> int:
        return int(self.guarded(lambda: self.w3.eth.block_number))

    def receipt(self, tx_hash: bytes) -> TxReceipt | None:
        """A mined transaction's receipt (one ``eth_getTransactionReceipt``); None if unknown."""

        def fetch() -> TxReceipt | None:
            try:
                return self.w3.eth.get_transaction_receipt(HexStr("0x" + tx_hash.hex()))
            except TransactionNotFound:  # unknown or still pending: nothing was mined
                return None

        return cast(TxReceipt | None, self.guarded(fetch))

    def block_header(self, number: int) -> BlockData | None:
        """The block at height ``number``, without its transactions; None past the head."""

        def fetch() -> BlockData | None:
            try:
                return self.w3.eth.get_block(number)
            except BlockNotFound:
                return None

        return cast(BlockData | None, self.guarded(fetch))

    def call_logs(
        self,
        event: Any,
        from_block: int,
        to_block: int | None = None,
        *,
        filters: dict[str, Any] | None = None,
    ) -> list[Any]:
        """An event's logs in ``[from_block, to_block]`` (``None`` = latest)."""
        end: int | str = "latest" if to_block is None else to_block
        return list(
            self.guarded(
                lambda: event.get_logs(
                    argument_filters=filters, from_block=from_block, to_block=end
                )
            )
        )

    def raw_request(self, method: str, params: list[Any]) -> dict[str, Any]:
        """Send one JSON-RPC request as it is; the node's whole answer (``result`` or ``error``).

        For what web3 has no API for (node-specific methods) or formats at a cost.
        """
        endpoint = RPCEndpoint(method)
        return dict(self.guarded(lambda: self.w3.provider.make_request(endpoint, params)))

    # -- writing --------------------------------------------------------------------

    def transact(
        self,
        fn: ContractFunction | ContractConstructor,
        *,
        preflight: bool = True,
        confirmed: bool = False,
    ) -> TxReceipt:
        """Build, sign, send and await a contract call (or constructor).

        A node estimates the gas (plus a margin); the embedded chain gets a fixed
        limit, and with ``preflight`` the call is run first, so that a revert raises
        before anything is mined. Without it (for a call that is all but certain to
        succeed: the EVM then runs it once, not twice), a revert is mined as a failed
        transaction and raises the same error, from its replay. ``confirmed``: also
        await :attr:`confirmations` blocks on top of it.
        """
        if self.kind == "eth-tester":
            tx = self.guarded(
                lambda: fn.build_transaction({**self._base_tx(), "gas": EMBEDDED_GAS})
            )
            if preflight:
                dry = cast(TxParams, {k: v for k, v in tx.items() if k in _DRY_RUN_KEYS})
                self.guarded(lambda: self.w3.eth.call(dry))
            return self.send(tx, confirmed=confirmed)
        tx = self.guarded(lambda: fn.build_transaction(self._base_tx()))
        tx["gas"] = int(int(tx["gas"]) * GAS_MARGIN)
        return self.send(tx, confirmed=confirmed)

    def deploy(self, artifact: Artifact, *args: Any) -> tuple[str, TxReceipt]:
        """Deploy ``artifact`` with constructor ``args``; returns (address, receipt)."""
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        # A deployment's block is where every audit starts: it must be final.
        receipt = self.transact(factory.constructor(*args), confirmed=True)
        address = receipt["contractAddress"]
        if not address:
            raise ChainError(f"deploying {artifact.name} produced no contract address")
        return str(address), receipt

    def send(self, tx: TxParams, *, confirmed: bool = False) -> TxReceipt:
        """Sign ``tx`` locally, send it raw, await its receipt (and, if ``confirmed``,
        :attr:`confirmations` blocks on top of it)."""
        signed = self.account.sign_transaction(dict(tx))  # type: ignore[arg-type]
        raw = bytes(signed.raw_transaction)
        switches = self._switches()
        tx_hash = self.guarded(lambda: self.w3.eth.send_raw_transaction(raw))
        receipt = self._wait(HexStr(tx_hash.to_0x_hex()), raw, switches, confirmed=confirmed)
        if receipt["status"] != 1:
            self._raise_failed(tx, receipt)
        return receipt

    def _base_tx(self) -> TxParams:
        nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")
        return {"from": self.account.address, "nonce": nonce, "chainId": self.chain_id}

    def _wait(self, tx_hash: HexStr, raw: bytes, switches: int, *, confirmed: bool) -> TxReceipt:
        """Poll for the receipt; after a fail-over, hand the signed transaction to the new
        node too (same nonce, same hash: it is mined once, whichever node had it)."""
        deadline = time.monotonic() + self.receipt_timeout
        while (receipt := self.receipt(bytes.fromhex(tx_hash[2:]))) is None:
            if self._switches() != switches:
                switches = self._switches()
                self._rebroadcast(raw)
            if time.monotonic() > deadline:
                raise TransactionTimeoutError(tx_hash, self.receipt_timeout)
            time.sleep(self.poll_interval or 0.05)
        while confirmed and self.confirmations > 0:
            if self.block_number() - int(receipt["blockNumber"]) >= self.confirmations:
                # A reorg may have moved it: return the receipt as the chain has it now.
                receipt = self.guarded(lambda: self.w3.eth.get_transaction_receipt(tx_hash))
                break
            if time.monotonic() > deadline:
                raise TransactionTimeoutError(tx_hash, self.receipt_timeout)
            time.sleep(self.poll_interval)
        return receipt

    def _rebroadcast(self, raw: bytes) -> None:
        """Send ``raw`` again; the node saying it has it (or mined it) is no failure."""
        try:
            self.guarded(lambda: self.w3.eth.send_raw_transaction(raw))
        except ChainUnavailableError:
            raise
        except ChainError as exc:  # "already known", "nonce too low": the receipt decides
            log_event(log, "re-broadcast refused", level=logging.DEBUG, reason=exc.message[:120])

    def _raise_failed(self, tx: TxParams, receipt: TxReceipt) -> None:
        """Replay a mined, failed transaction to learn its revert reason.

        First against the state after its block (which includes a conflicting
        transaction earlier in the same block), then against the state before.
        """
        replay = {k: v for k, v in tx.items() if k in ("from", "to", "data", "value", "gas")}
        mined = int(receipt["blockNumber"])
        for block in (mined, mined - 1):
            self.guarded(lambda b=block: self.w3.eth.call(replay, block_identifier=b))  # type: ignore[arg-type,misc]
        raise ChainError(f"transaction {receipt['transactionHash'].to_0x_hex()} failed (status 0)")

    def with_signer(self, account: LocalAccount) -> Chain:
        """The same chain, signing as ``account`` (closing it leaves this one open)."""
        return Chain(
            self.w3,
            account,
            kind=self.kind,
            confirmations=self.confirmations,
            receipt_timeout=self.receipt_timeout,
            poll_interval=self.poll_interval,
        )

    def transfer(self, to: str, value: int, *, confirmed: bool = False) -> TxReceipt:
        """Send ``value`` wei to ``to`` (``confirmed``: see :meth:`send`)."""
        tx: TxParams = {**self._base_tx(), **self._fee_fields(), "to": to, "value": Wei(value)}
        tx["gas"] = 21000
        return self.send(tx, confirmed=confirmed)

    def _fee_fields(self) -> TxParams:
        base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas")
        if base_fee is None:  # pre-London networks (some private Besu/Quorum setups)
            return {"gasPrice": self.w3.eth.gas_price}
        tip = self.w3.eth.max_priority_fee
        return {"maxFeePerGas": Wei(2 * int(base_fee) + tip), "maxPriorityFeePerGas": tip}

    def _top_up_from(self, faucet_key: bytes) -> None:
        if self.w3.eth.get_balance(self.account.address) >= EMBEDDED_MIN_BALANCE:
            return
        from eth_account import Account

        self.with_signer(Account.from_key(faucet_key)).transfer(
            self.account.address, EMBEDDED_TOP_UP
        )

    # -- error translation ------------------------------------------------------------

    def guarded(self, op: Callable[[], Any]) -> Any:
        """Run a web3 operation, translating its failures into ledger errors."""
        try:
            return op()
        except CHAIN_FAILURES as exc:
            raise as_chain_error(
                exc,
                self._selectors,
                rpc_urls=self.rpc_urls,
                payer=self.account.address,
                chain_id=getattr(self, "chain_id", None),  # None while it is being read
            ) from None
