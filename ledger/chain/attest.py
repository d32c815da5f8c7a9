"""The chain half of verifying a bundle: one ``eth_call`` to the registry.

The bundle's math is checked offline (:func:`ledger.proofs.verify_bundle`);
this asks the registry named in the bundle whether that batch id is anchored
with that root and tree size, in the block the bundle claims.
"""

from __future__ import annotations

from ledger.chain.connection import Chain
from ledger.chain.registry import AnchorRegistryClient
from ledger.chain.types import AnchorRecord
from ledger.errors import IntegrityError
from ledger.proofs import ProofBundle


class AnchorMismatchError(IntegrityError):
    """The registry does not hold the anchor the bundle claims."""

    code = "anchor-mismatch"


def check_anchor(chain: Chain, bundle: ProofBundle) -> AnchorRecord:
    """Raise :class:`AnchorMismatchError` unless the registry confirms the bundle's anchor."""
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
    record = registry.anchor_by_batch(bundle.batch_id)
    batch = "0x" + bundle.batch_id.hex()
    if record is None:
        raise AnchorMismatchError(f"batch {batch} is not anchored in registry {registry.address}")
    if record.root != bundle.root or record.tree_size != bundle.tree_size:
        raise AnchorMismatchError(
            f"batch {batch} is anchored with root 0x{record.root.hex()} and size "
            f"{record.tree_size}, not the bundle's 0x{bundle.root.hex()} / {bundle.tree_size}"
        )
    if record.block_number != claimed.block_number:
        raise AnchorMismatchError(
            f"batch {batch} was anchored in block {record.block_number}, "
            f"the bundle says {claimed.block_number}"
        )
    claimed_time = int(claimed.block_timestamp.timestamp())
    if record.timestamp != claimed_time:
        raise AnchorMismatchError(
            f"batch {batch} was anchored at unix time {record.timestamp}, "
            f"the bundle says {claimed_time}"
        )
    return record
