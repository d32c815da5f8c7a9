"""One block holding a batch's anchor and the transactions a forged ``tx_hash`` could name.

For the tests of the anchor's transaction check (finding 4 of issue 17). Mined
together in one block (automine off, on either backend): the batch's genuine
anchor, the same batch anchored in a second AnchorRegistry, another batch's
anchor, and a second anchor of the batch that reverts. Then another anchor in a
later block. Each forged bundle is the genuine one with only its ``tx_hash``
changed, so its math and its registry record still hold: only the transaction
check can refuse it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain import Chain, deploy
from ledger.chain.artifacts import load_artifact
from ledger.chain.deploy import ROLE_GRANTS, role_id
from ledger.chain.registry import AnchorRegistryClient
from ledger.chain.types import BatchKind
from ledger.proofs import AnchorAttestation, MerkleTree, ProofBundle, make_bundle
from tests.conftest import rpc

#: Gas of each hand-built transaction (an anchor uses about 150k).
GAS = 400_000
GWEI = 10**9
MAX_FEE = 100 * GWEI
LEAF = 2


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


@dataclass
class AnchorBlock:
    registry: str
    genuine: ProofBundle
    #: name -> (the genuine bundle with another tx_hash, what the refusal must name)
    forged: dict[str, tuple[ProofBundle, str]]


@contextmanager
def one_block(chain: Chain) -> Iterator[None]:
    """Transactions sent inside are mined together, in one block, on leaving."""
    if chain.kind == "eth-tester":
        tester: Any = chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
        tester.disable_auto_mine_transactions()
        try:
            yield
        finally:
            tester.enable_auto_mine_transactions()  # mines the pending ones in one block
        return
    assert chain.rpc_url is not None
    rpc(chain.rpc_url, "evm_setAutomine", [False])
    try:
        yield
        rpc(chain.rpc_url, "evm_mine", [])
    finally:
        rpc(chain.rpc_url, "evm_setAutomine", [True])


def submitters(chain: Chain, registries: Sequence[Any], count: int) -> list[LocalAccount]:
    """Fresh accounts, funded and allowed to anchor in ``registries``.

    One per transaction of the block: eth-tester checks a queued transaction's nonce
    against the last mined state, so it holds at most one per sender.
    """
    accounts = [Account.create() for _ in range(count)]
    for account in accounts:
        chain.transfer(account.address, 10**18)
        for contract in registries:
            grant = contract.functions.grantRole(role_id("SUBMITTER_ROLE"), account.address)
            chain.transact(grant)
    return accounts


def send_in_one_block(
    chain: Chain, calls: Sequence[tuple[LocalAccount, Any]]
) -> tuple[list[bytes], list[int]]:
    """Send ``(signer, contract call)``s mined in one block, in order (reverting ones too).

    Falling tips keep the order on a node that orders by fee (anvil). Their hashes
    and statuses.
    """
    hashes = []
    with one_block(chain):
        for k, (account, fn) in enumerate(calls):
            tip = (len(calls) - k) * GWEI
            tx = fn.build_transaction(
                {
                    "from": account.address,
                    "nonce": chain.w3.eth.get_transaction_count(account.address),
                    "chainId": chain.chain_id,
                    "gas": GAS,
                    "maxFeePerGas": MAX_FEE + tip,
                    "maxPriorityFeePerGas": tip,
                }
            )
            signed = account.sign_transaction(tx)
            hashes.append(bytes(chain.w3.eth.send_raw_transaction(signed.raw_transaction)))
    statuses = [chain.w3.eth.get_transaction_receipt(h)["status"] for h in hashes]
    blocks = {chain.w3.eth.get_transaction_receipt(h)["blockNumber"] for h in hashes}
    assert len(blocks) == 1, f"not mined in one block: {blocks}"
    return hashes, statuses


def second_registry(chain: Chain) -> Any:
    """Another AnchorRegistry, deployed by us, that we may anchor in."""
    address, _ = chain.deploy(load_artifact("AnchorRegistry"), chain.address)
    contract = chain.contract("AnchorRegistry", address)
    for role in ROLE_GRANTS["AnchorRegistry"]:
        chain.transact(contract.functions.grantRole(role_id(role), chain.address))
    return contract


def anchor_block(chain: Chain, data_dir: Path) -> AnchorBlock:
    """Deploy, anchor as the module docstring says, and build the bundles."""
    deployment, _ = deploy(chain, data_dir)
    ours = AnchorRegistryClient.from_deployment(chain, deployment)
    theirs = second_registry(chain)
    tree = MerkleTree(digest(f"leaf {i}") for i in range(5))
    batch, manifest, kind = digest("batch"), digest("manifest"), int(BatchKind.CREDIT_DATA)
    own = ours.contract.functions
    calls = [
        own.anchor(batch, tree.root, tree.size, kind, manifest),
        theirs.functions.anchor(batch, tree.root, tree.size, kind, manifest),
        own.anchor(digest("other batch"), digest("other root"), 3, kind, manifest),
        own.anchor(batch, digest("a third root"), 3, kind, manifest),  # reused batch id
    ]
    signers = submitters(chain, [ours.contract, theirs], len(calls))
    hashes, statuses = send_in_one_block(chain, list(zip(signers, calls, strict=True)))
    assert statuses == [1, 1, 1, 0], statuses
    genuine, elsewhere, other, reverted = hashes
    later = ours.anchor(digest("later batch"), digest("later root"), 2, kind, manifest)
    receipt = chain.w3.eth.get_transaction_receipt(genuine.hex())
    block = int(receipt["blockNumber"])
    header = chain.w3.eth.get_block(block)
    anchor = AnchorAttestation(
        chain_id=chain.chain_id,
        registry=bytes.fromhex(ours.address[2:]),
        tx_hash=genuine,
        block_number=block,
        block_timestamp=datetime.fromtimestamp(int(header["timestamp"]), UTC),
    )
    real = make_bundle(None, LEAF, tree, batch, anchor, leaf_hash=tree.leaf(LEAF))
    deploy_tx = deployment.registries["AnchorRegistry"].tx_hash
    cases = {
        "another batch's anchor, same block": (other, "carries no BatchAnchored event"),
        "this batch anchored in another registry": (
            elsewhere,
            f"carries no BatchAnchored event of registry {ours.address}",
        ),
        "a reverted anchor of this batch": (reverted, "failed (reverted)"),
        "no such transaction": (digest("no such transaction"), "does not exist"),
        "an anchor in a later block": (
            bytes.fromhex(later.tx_hash[2:]),
            f"is in block {later.block_number}, the bundle says block {block}",
        ),
        "the registry's deploy transaction": (
            bytes.fromhex(deploy_tx[2:]),
            f"the bundle says block {block}",
        ),
    }
    forged = {
        name: (dataclasses.replace(real, anchor=dataclasses.replace(anchor, tx_hash=tx)), why)
        for name, (tx, why) in cases.items()
    }
    return AnchorBlock(ours.address, real, forged)
