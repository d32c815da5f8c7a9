"""The chain half of verifying a bundle: the registry's record and the anchoring transaction.

The bundle's math is checked offline (:func:`ledger.proofs.verify_bundle`);
this asks the registry named in the bundle whether that batch id is anchored
with that root and tree size, in the block the bundle claims (one ``eth_call``),
then whether the bundle's ``tx_hash`` is the transaction that anchored it (one
``eth_getTransactionReceipt`` and the block's header). The one implementation of
both rules: ``ledger verify``, ``ledger demo`` and :mod:`ledger.client` call it.
"""

from __future__ import annotations

from web3.types import TxReceipt

from ledger.chain.connection import Chain
from ledger.chain.registry import AnchorRegistryClient
from ledger.chain.types import AnchorRecord
from ledger.errors import IntegrityError
from ledger.proofs import ProofBundle


class AnchorMismatchError(IntegrityError):
    """The registry does not hold the anchor the bundle claims."""

    code = "anchor-mismatch"


class AnchorTransactionError(AnchorMismatchError):
    """The bundle's ``tx_hash`` is not the transaction that anchored its batch."""

    code = "anchor-transaction-mismatch"


def check_anchor(chain: Chain, bundle: ProofBundle) -> AnchorRecord:
    """Raise :class:`AnchorMismatchError` unless the chain confirms the bundle's whole anchor.

    The registry's record first (the batch's root, size, block and time), then the
    bundle's transaction (:func:`check_transaction`).
    """
    claimed = bundle.anchor
    if claimed.chain_id != chain.chain_id:
        raise AnchorMismatchError(
            f"the bundle is anchored on chain {claimed.chain_id}, "
            f"the node is chain {chain.chain_id}",
            hint="pass --rpc for the right network",
        )
    registry = AnchorRegistryClient(chain, "0x" + claimed.registry.hex())
    if not chain.code_at(registry.address):
        raise AnchorMismatchError(f"no registry contract at {registry.address} on this chain")
    record = _check_record(registry, bundle)
    check_transaction(registry, bundle)
    return record


def _check_record(registry: AnchorRegistryClient, bundle: ProofBundle) -> AnchorRecord:
    """What the registry stores for the bundle's batch, which must be what the bundle says."""
    claimed = bundle.anchor
    return check_batch(
        registry,
        bundle.batch_id,
        bundle.root,
        bundle.tree_size,
        claimed.block_number,
        int(claimed.block_timestamp.timestamp()),
    )


def check_batch(
    registry: AnchorRegistryClient,
    batch_id: bytes,
    root: bytes,
    tree_size: int,
    block_number: int,
    timestamp: int,
) -> AnchorRecord:
    """Raise :class:`AnchorMismatchError` unless ``registry`` holds ``batch_id`` anchored
    with ``root`` and ``tree_size`` in ``block_number`` at unix time ``timestamp``
    (one ``eth_call``: ``anchorByBatch``)."""
    record = registry.anchor_by_batch(batch_id)
    problem = batch_problem(
        registry.address, record, batch_id, root, tree_size, block_number, timestamp
    )
    if problem is not None:
        raise AnchorMismatchError(problem)
    assert record is not None  # no problem means a record
    return record


def batch_problem(
    registry: str,
    record: AnchorRecord | None,
    batch_id: bytes,
    root: bytes,
    tree_size: int,
    block_number: int,
    timestamp: int,
) -> str | None:
    """Why ``record`` (what ``registry`` holds for ``batch_id``) is not the claimed anchor,
    or None when it is. The rule of :func:`check_batch`, for callers that read the
    record themselves (the console shows the registry's root)."""
    batch = "0x" + batch_id.hex()
    if record is None:
        return f"batch {batch} is not anchored in registry {registry}"
    if record.root != root or record.tree_size != tree_size:
        return (
            f"batch {batch} is anchored with root 0x{record.root.hex()} and size "
            f"{record.tree_size}, not the bundle's 0x{root.hex()} / {tree_size}"
        )
    if record.block_number != block_number:
        return (
            f"batch {batch} was anchored in block {record.block_number}, "
            f"the bundle says {block_number}"
        )
    if record.timestamp != timestamp:
        return (
            f"batch {batch} was anchored at unix time {record.timestamp}, "
            f"the bundle says {timestamp}"
        )
    return None


def check_transaction(registry: AnchorRegistryClient, bundle: ProofBundle) -> None:
    """Raise :class:`AnchorTransactionError` unless ``anchor.tx_hash`` anchored this batch.

    The transaction must exist, have succeeded, be mined in the bundle's block (the
    block now at that height, with the bundle's time) and carry ``registry``'s own
    ``BatchAnchored`` event for the bundle's batch id, root and tree size. A bundle
    naming any other transaction would send its reader to evidence that is not this
    anchor's. Costs one receipt and one block header: cheap enough for every verify.
    """
    chain, claimed = registry.chain, bundle.anchor
    tx = "0x" + claimed.tx_hash.hex()
    receipt = chain.receipt(claimed.tx_hash)
    if receipt is None:
        raise AnchorTransactionError(
            f"transaction {tx} does not exist on chain {chain.chain_id} (or is not mined)"
        )
    if receipt["status"] != 1:
        raise AnchorTransactionError(f"transaction {tx} failed (reverted): it anchored nothing")
    mined = int(receipt["blockNumber"])
    if mined != claimed.block_number:
        raise AnchorTransactionError(
            f"transaction {tx} is in block {mined}, the bundle says block {claimed.block_number}"
        )
    if not any(
        (e.batch_id, e.root, e.tree_size) == (bundle.batch_id, bundle.root, bundle.tree_size)
        for e in registry.events_in(receipt)
    ):
        raise AnchorTransactionError(
            f"transaction {tx} carries no BatchAnchored event of registry {registry.address} "
            f"for batch 0x{bundle.batch_id.hex()} with root 0x{bundle.root.hex()} "
            f"and size {bundle.tree_size}"
        )
    _check_block(chain, receipt, bundle)


def _check_block(chain: Chain, receipt: TxReceipt, bundle: ProofBundle) -> None:
    """The block at the receipt's height is the receipt's block, and has the bundle's time."""
    mined = int(receipt["blockNumber"])
    header = chain.block_header(mined)
    if header is None or bytes(header["hash"]) != bytes(receipt["blockHash"]):
        raise AnchorTransactionError(
            f"block {mined} on this chain is not the block transaction "
            f"0x{bundle.anchor.tx_hash.hex()} was mined in (a reorganised chain?)"
        )
    claimed_time = int(bundle.anchor.block_timestamp.timestamp())
    if int(header["timestamp"]) != claimed_time:
        raise AnchorTransactionError(
            f"block {mined} has unix time {header['timestamp']}, the bundle says {claimed_time}"
        )
