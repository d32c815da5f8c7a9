"""One conformance suite, run against the embedded chain and against a real anvil node.

Everything above :class:`ledger.chain.Chain` must behave the same on both; a test
that only one backend can pass does not belong here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from eth_account import Account

from ledger.chain import Chain, Deployment, deploy
from ledger.chain.artifacts import load_artifact
from ledger.chain.errors import (
    AccessControlUnauthorizedAccount,
    BatchAlreadyAnchored,
    DeploymentError,
    InsufficientFundsError,
)
from ledger.chain.registry import AnchorRegistryClient, BatchKind
from ledger.errors import LedgerError


def test_deploy_writes_the_manifest(any_chain: Chain, data_dir: Path) -> None:
    deployment, created = deploy(any_chain, data_dir)
    assert created
    manifest = json.loads((data_dir / "deployment.json").read_text())
    assert manifest["format"] == "credit-anchor/deployment/v1"
    assert manifest["chain_id"] == any_chain.chain_id
    assert manifest["rpc_kind"] == any_chain.kind
    assert manifest["deployer"] == any_chain.address.lower()
    assert manifest["compiler_version"].startswith("0.8.37")
    for name in ("AnchorRegistry", "ConsentRegistry"):
        info = manifest["registries"][name]
        assert info["address"] == info["address"].lower()
        assert info["block_number"] >= manifest["deployment_block"]
        abi = json.loads((data_dir / manifest["abi_files"][name]).read_text())
        assert abi == load_artifact(name).abi
        code = any_chain.code_at(info["address"])
        assert "0x" + code.hex() == load_artifact(name).deployed_bytecode
    assert Deployment.load(data_dir / "deployment.json") == deployment


def test_deploy_again_reports_the_existing_one(
    deployed: tuple[Chain, Deployment], data_dir: Path
) -> None:
    chain, first = deployed
    again, created = deploy(chain, data_dir)
    assert not created
    assert again == first
    forced, created = deploy(chain, data_dir, force=True)
    assert created
    assert forced.anchor_registry != first.anchor_registry


def test_a_manifest_pointing_at_no_code_is_refused(
    deployed: tuple[Chain, Deployment], data_dir: Path
) -> None:
    chain, deployment = deployed
    manifest = deployment.to_json()
    manifest["registries"]["AnchorRegistry"]["address"] = "0x" + "42" * 20
    (data_dir / "deployment.json").write_text(json.dumps(manifest))
    with pytest.raises(DeploymentError, match="no contract code") as info:
        deploy(chain, data_dir)
    assert "--force" in (info.value.hint or "")


def test_roles_are_granted_to_the_deployer(deployed: tuple[Chain, Deployment]) -> None:
    chain, deployment = deployed
    anchor = chain.contract("AnchorRegistry", deployment.anchor_registry)
    consent = chain.contract("ConsentRegistry", deployment.consent_registry)
    me = chain.address
    for contract, role in [
        (anchor, "SUBMITTER_ROLE"),
        (anchor, "PAUSER_ROLE"),
        (consent, "RECORDER_ROLE"),
    ]:
        role_id = chain.call(getattr(contract.functions, role)())
        assert chain.call(contract.functions.hasRole(role_id, me))
    assert chain.call(anchor.functions.hasRole(b"\0" * 32, me))


def test_anchor_round_trip_and_event(deployed: tuple[Chain, Deployment]) -> None:
    chain, deployment = deployed
    registry = AnchorRegistryClient.from_deployment(chain, deployment)
    batch_id, root, manifest = os.urandom(32), os.urandom(32), os.urandom(32)
    event = registry.anchor(batch_id, root, 1000, BatchKind.CREDIT_DATA, manifest)
    assert (event.batch_id, event.root, event.tree_size, event.kind, event.manifest_hash) == (
        batch_id,
        root,
        1000,
        1,
        manifest,
    )
    assert event.submitter == chain.address.lower()
    assert event.seq == 0
    record = registry.anchor_by_batch(batch_id)
    assert record is not None
    assert record.root == root
    assert record.block_number == event.block_number
    assert registry.anchor_of(root) == record
    assert registry.anchor_count() == 1
    assert registry.log_head() == event.log_head
    (logged,) = registry.events(deployment.deployment_block)
    assert logged.batch_id == batch_id and logged.log_head == event.log_head


def test_reverts_come_back_typed(deployed: tuple[Chain, Deployment]) -> None:
    chain, deployment = deployed
    registry = AnchorRegistryClient.from_deployment(chain, deployment)
    batch_id = os.urandom(32)
    registry.anchor(batch_id, os.urandom(32), 5, BatchKind.CREDIT_DATA, os.urandom(32))
    with pytest.raises(BatchAlreadyAnchored) as info:
        registry.anchor(batch_id, os.urandom(32), 5, BatchKind.CREDIT_DATA, os.urandom(32))
    assert info.value.batch_id == batch_id
    assert isinstance(info.value, LedgerError)


@pytest.mark.parametrize("preflight", [True, False])
def test_a_revert_without_preflight_is_mined_failed_and_raises_the_same(
    deployed: tuple[Chain, Deployment], preflight: bool
) -> None:
    chain, deployment = deployed
    registry = AnchorRegistryClient.from_deployment(chain, deployment)
    batch_id = os.urandom(32)
    registry.anchor(batch_id, os.urandom(32), 5, BatchKind.CREDIT_DATA, os.urandom(32))
    nonce = chain.w3.eth.get_transaction_count(chain.address)
    with pytest.raises(BatchAlreadyAnchored) as info:
        registry.anchor(
            batch_id, os.urandom(32), 5, BatchKind.CREDIT_DATA, os.urandom(32), preflight=preflight
        )
    assert info.value.batch_id == batch_id
    mined = chain.w3.eth.get_transaction_count(chain.address) - nonce
    # a node always estimates gas first, so nothing reaches it that reverts
    assert mined == (0 if preflight or chain.kind != "eth-tester" else 1)
    assert registry.anchor_count() == 1


def test_a_signer_without_the_role_or_without_funds(deployed: tuple[Chain, Deployment]) -> None:
    chain, deployment = deployed
    stranger = chain.with_signer(Account.create())
    chain.transfer(stranger.address, 10**18)
    registry = AnchorRegistryClient.from_deployment(stranger, deployment)
    with pytest.raises(AccessControlUnauthorizedAccount) as info:
        registry.anchor(os.urandom(32), os.urandom(32), 5, BatchKind.CREDIT_DATA, os.urandom(32))
    assert info.value.account == stranger.address.lower()
    # With the role but no funds, the node refuses the transaction itself.
    broke = chain.with_signer(Account.create())
    contract = chain.contract("AnchorRegistry", deployment.anchor_registry)
    role = chain.call(contract.functions.SUBMITTER_ROLE())
    chain.transact(contract.functions.grantRole(role, broke.address))
    with pytest.raises(InsufficientFundsError):
        AnchorRegistryClient.from_deployment(broke, deployment).anchor(
            os.urandom(32), os.urandom(32), 5, BatchKind.CREDIT_DATA, os.urandom(32)
        )
