"""AnchorRegistry: constructor, roles, anchor, its views, the hash-chained log head, pause.

Every revert is pinned to its exact custom error and arguments, every state change to its
exact event and arguments; a no-op emits nothing and a revert changes nothing. Each test
runs on the embedded chain and on a real anvil node.
"""

from __future__ import annotations

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.chain import Chain, Deployment
from ledger.chain.artifacts import load_artifact
from ledger.chain.errors import (
    AccessControlBadConfirmation,
    AccessControlUnauthorizedAccount,
    BatchAlreadyAnchored,
    EnforcedPause,
    ExpectedPause,
    InvalidKind,
    RootAlreadyAnchored,
    ZeroAdmin,
    ZeroBatchId,
    ZeroRoot,
    ZeroTreeSize,
)
from ledger.chain.registry import AnchorRecord, AnchorRegistryClient
from tests.contracts.helpers import (
    DEFAULT_ADMIN_ROLE,
    ZERO32,
    ZERO_ADDRESS,
    assert_reverts,
    b32,
    block_of,
    decoded,
    funded_signer,
    last_block_failed_tx,
    only_event,
    send_unestimated,
)

SUBMITTER_ROLE = keccak(text="SUBMITTER_ROLE")
PAUSER_ROLE = keccak(text="PAUSER_ROLE")
BATCH_ANCHORED = "BatchAnchored(bytes32,bytes32,address,uint64,uint8,bytes32,uint64,bytes32)"
HEAD_TYPES = ["bytes32", "bytes32", "bytes32", "uint64", "uint8", "bytes32"]
EMPTY_ANCHOR = (ZERO32, 0, 0, 0, 0, 0)
MAX_UINT64 = 2**64 - 1


def next_head(
    prev: bytes, batch_id: bytes, root: bytes, tree_size: int, kind: int, manifest: bytes
) -> bytes:
    """``keccak256(abi.encode(prevHead, batchId, root, treeSize, kind, manifestHash))``."""
    return keccak(abi_encode(HEAD_TYPES, [prev, batch_id, root, tree_size, kind, manifest]))


def anchor(
    chain: Chain,
    registry: Contract,
    label: str,
    tree_size: int = 5,
    kind: int = 1,
    manifest: bytes | None = None,
) -> TxReceipt:
    """Anchor batch ``label`` (batch id, root and manifest derived from it); the receipt."""
    manifest = b32(f"{label}/manifest") if manifest is None else manifest
    fn = registry.functions.anchor(
        b32(f"{label}/batch"), b32(f"{label}/root"), tree_size, kind, manifest
    )
    return chain.transact(fn)


def snapshot(chain: Chain, registry: Contract) -> tuple[int, bytes, bool]:
    """``(anchorCount, logHead, paused)``."""
    fns = registry.functions
    return (chain.call(fns.anchorCount()), chain.call(fns.logHead()), chain.call(fns.paused()))


def has_role(chain: Chain, registry: Contract, role: bytes, account: str) -> bool:
    return bool(chain.call(registry.functions.hasRole(role, account)))


# -- constructor and roles ---------------------------------------------------------------


def test_constructor_makes_admin_the_only_role_holder(any_chain: Chain) -> None:
    admin = Account.create().address
    address, receipt = any_chain.deploy(load_artifact("AnchorRegistry"), admin)
    registry = any_chain.contract("AnchorRegistry", address)
    assert only_event(registry, receipt, "RoleGranted") == {
        "role": DEFAULT_ADMIN_ROLE,
        "account": admin,
        "sender": any_chain.address,
    }
    me = any_chain.address
    assert has_role(any_chain, registry, DEFAULT_ADMIN_ROLE, admin)
    for role in (DEFAULT_ADMIN_ROLE, SUBMITTER_ROLE, PAUSER_ROLE):
        assert not has_role(any_chain, registry, role, me)
        assert any_chain.call(registry.functions.getRoleAdmin(role)) == DEFAULT_ADMIN_ROLE
    assert not has_role(any_chain, registry, SUBMITTER_ROLE, admin)
    assert not has_role(any_chain, registry, PAUSER_ROLE, admin)
    assert snapshot(any_chain, registry) == (0, ZERO32, False)
    # The deployer is not the admin: it cannot hand out roles.
    assert_reverts(
        AccessControlUnauthorizedAccount,
        {"account": me.lower(), "neededRole": DEFAULT_ADMIN_ROLE},
        any_chain.transact,
        registry.functions.grantRole(SUBMITTER_ROLE, me),
    )


def test_constructor_rejects_the_zero_admin(any_chain: Chain) -> None:
    before = any_chain.block_number()
    assert_reverts(ZeroAdmin, {}, any_chain.deploy, load_artifact("AnchorRegistry"), ZERO_ADDRESS)
    assert any_chain.block_number() == before


def test_role_constants_are_the_hashes_of_their_names(
    chain: Chain, anchor_registry: Contract
) -> None:
    fns = anchor_registry.functions
    assert chain.call(fns.SUBMITTER_ROLE()) == keccak(b"SUBMITTER_ROLE")
    assert chain.call(fns.PAUSER_ROLE()) == keccak(b"PAUSER_ROLE")
    assert chain.call(fns.PAUSER_ROLE()).hex() == (
        "65d7a28e3265b37a6474929f336521b332c1681b933f6cb9f3376673440d862a"
    )
    assert chain.call(fns.DEFAULT_ADMIN_ROLE()) == ZERO32


def test_supports_the_erc165_and_access_control_interfaces(
    chain: Chain, anchor_registry: Contract
) -> None:
    supports = anchor_registry.functions.supportsInterface
    assert chain.call(supports(bytes.fromhex("01ffc9a7")))  # IERC165
    assert chain.call(supports(bytes.fromhex("7965db0b")))  # IAccessControl
    assert not chain.call(supports(bytes.fromhex("ffffffff")))


# -- anchor and its views ------------------------------------------------------------------


def test_anchor_stores_the_record_and_emits_every_argument(
    deployed: tuple[Chain, Deployment], anchor_registry: Contract
) -> None:
    chain, deployment = deployed
    batch_id, root, manifest = b32("b/batch"), b32("b/root"), b32("b/manifest")
    receipt = chain.transact(anchor_registry.functions.anchor(batch_id, root, 1000, 2, manifest))
    number, timestamp = block_of(chain, receipt)
    head = next_head(ZERO32, batch_id, root, 1000, 2, manifest)
    assert only_event(anchor_registry, receipt, "BatchAnchored") == {
        "batchId": batch_id,
        "root": root,
        "submitter": chain.address,
        "treeSize": 1000,
        "kind": 2,
        "manifestHash": manifest,
        "seq": 0,
        "logHead": head,
    }
    # batchId, root and submitter are indexed, in that order.
    submitter_topic = bytes(12) + bytes.fromhex(chain.address[2:])
    topics = [bytes(t) for t in receipt["logs"][0]["topics"]]
    assert topics == [keccak(text=BATCH_ANCHORED), batch_id, root, submitter_topic]

    fns = anchor_registry.functions
    record = (root, 1000, 0, number, timestamp, 2)
    assert chain.call(fns.anchorOf(root)) == record
    assert chain.call(fns.anchorByBatch(batch_id)) == record
    assert chain.call(fns.isAnchored(root))
    assert not chain.call(fns.isAnchored(batch_id))
    assert snapshot(chain, anchor_registry) == (1, head, False)
    client = AnchorRegistryClient.from_deployment(chain, deployment)
    assert client.anchor_of(root) == AnchorRecord(root, 1000, 0, number, timestamp, 2)


def test_extreme_values_survive_the_packed_record(chain: Chain, anchor_registry: Contract) -> None:
    manifest = b"\xff" * 32
    receipt = anchor(chain, anchor_registry, "max", MAX_UINT64, 3, manifest)
    number, timestamp = block_of(chain, receipt)
    root = b32("max/root")
    assert chain.call(anchor_registry.functions.anchorOf(root)) == (
        root,
        MAX_UINT64,
        0,
        number,
        timestamp,
        3,
    )
    event = only_event(anchor_registry, receipt, "BatchAnchored")
    assert (event["treeSize"], event["kind"], event["manifestHash"]) == (MAX_UINT64, 3, manifest)
    # The next anchor still gets seq 1 and a size of 1: no bits leak between fields.
    anchor(chain, anchor_registry, "one", 1, 1, ZERO32)
    assert chain.call(anchor_registry.functions.anchorOf(b32("one/root")))[1:3] == (1, 1)


def test_log_head_chains_every_anchor(
    deployed: tuple[Chain, Deployment], anchor_registry: Contract
) -> None:
    chain, deployment = deployed
    batches = [("a", 1, 1, b32("m0")), ("b", 7, 2, ZERO32), ("c", MAX_UINT64, 3, b"\x01" * 32)]
    batches.append(("d", 64, 1, b32("m3")))
    head = ZERO32
    for seq, (label, size, kind, manifest) in enumerate(batches):
        receipt = anchor(chain, anchor_registry, label, size, kind, manifest)
        batch_id, root = b32(f"{label}/batch"), b32(f"{label}/root")
        head = next_head(head, batch_id, root, size, kind, manifest)
        event = only_event(anchor_registry, receipt, "BatchAnchored")
        assert (event["seq"], event["logHead"]) == (seq, head)
        assert snapshot(chain, anchor_registry) == (seq + 1, head, False)
        assert chain.call(anchor_registry.functions.anchorByBatch(batch_id))[:3] == (
            root,
            size,
            seq,
        )
    # An auditor replaying every BatchAnchored log reaches the same head.
    logs = chain.call_logs(anchor_registry.events.BatchAnchored(), deployment.deployment_block)
    replayed = ZERO32
    for log in logs:
        a = log["args"]
        replayed = next_head(
            replayed, a["batchId"], a["root"], a["treeSize"], a["kind"], a["manifestHash"]
        )
    assert [log["args"]["seq"] for log in logs] == [0, 1, 2, 3]
    assert replayed == head == chain.call(anchor_registry.functions.logHead())


def test_unknown_batch_or_root_reads_as_all_zero(
    deployed: tuple[Chain, Deployment], anchor_registry: Contract
) -> None:
    chain, deployment = deployed
    fns = anchor_registry.functions
    client = AnchorRegistryClient.from_deployment(chain, deployment)
    anchor(chain, anchor_registry, "known")
    for unknown in (b32("unknown"), ZERO32, b32("known/batch")):
        assert chain.call(fns.anchorOf(unknown)) == EMPTY_ANCHOR
        assert not chain.call(fns.isAnchored(unknown))
        assert client.anchor_of(unknown) is None
    for unknown in (b32("unknown"), ZERO32, b32("known/root")):
        assert chain.call(fns.anchorByBatch(unknown)) == EMPTY_ANCHOR
        assert client.anchor_by_batch(unknown) is None


# -- anchor's errors -------------------------------------------------------------------------


def test_anchor_rejects_a_zero_batch_id_root_or_size(
    chain: Chain, anchor_registry: Contract
) -> None:
    anchor(chain, anchor_registry, "first")
    before = snapshot(chain, anchor_registry)
    fn = anchor_registry.functions.anchor
    batch_id, root, manifest = b32("x/batch"), b32("x/root"), b32("x/manifest")
    assert_reverts(ZeroBatchId, {}, chain.transact, fn(ZERO32, root, 5, 1, manifest))
    assert_reverts(ZeroRoot, {}, chain.transact, fn(batch_id, ZERO32, 5, 1, manifest))
    assert_reverts(ZeroTreeSize, {}, chain.transact, fn(batch_id, root, 0, 1, manifest))
    assert snapshot(chain, anchor_registry) == before
    assert not chain.call(anchor_registry.functions.isAnchored(root))


def test_anchor_rejects_a_kind_outside_1_to_4(chain: Chain, anchor_registry: Contract) -> None:
    for kind in (0, 5, 255):
        assert_reverts(
            InvalidKind, {"kind": kind}, anchor, chain, anchor_registry, f"k{kind}", 5, kind
        )
    assert snapshot(chain, anchor_registry) == (0, ZERO32, False)
    for seq, kind in enumerate((1, 2, 3, 4)):
        event = only_event(
            anchor_registry, anchor(chain, anchor_registry, f"k{kind}", 5, kind), "BatchAnchored"
        )
        assert (event["kind"], event["seq"]) == (kind, seq)


def test_anchor_rejects_a_reused_batch_id_or_root(chain: Chain, anchor_registry: Contract) -> None:
    fn = anchor_registry.functions.anchor
    batch_id, root, manifest = b32("r/batch"), b32("r/root"), b32("r/manifest")
    chain.transact(fn(batch_id, root, 5, 1, manifest))
    before = snapshot(chain, anchor_registry)
    other_batch, other_root = b32("other/batch"), b32("other/root")
    assert_reverts(
        BatchAlreadyAnchored,
        {"batchId": batch_id},
        chain.transact,
        fn(batch_id, other_root, 5, 1, manifest),
    )
    assert_reverts(
        RootAlreadyAnchored, {"root": root}, chain.transact, fn(other_batch, root, 6, 2, manifest)
    )
    # The exact same anchor twice is not idempotent: it is a reused batch id.
    assert_reverts(
        BatchAlreadyAnchored,
        {"batchId": batch_id},
        chain.transact,
        fn(batch_id, root, 5, 1, manifest),
    )
    assert snapshot(chain, anchor_registry) == before
    assert chain.call(anchor_registry.functions.anchorOf(other_root)) == EMPTY_ANCHOR
    assert chain.call(anchor_registry.functions.anchorByBatch(other_batch)) == EMPTY_ANCHOR
    assert chain.call(anchor_registry.functions.anchorByBatch(batch_id))[:3] == (root, 5, 0)


def test_a_mined_reverted_anchor_changes_nothing(chain: Chain, anchor_registry: Contract) -> None:
    fn = anchor_registry.functions.anchor
    batch_id = b32("m/batch")
    chain.transact(fn(batch_id, b32("m/root"), 5, 1, b32("m/manifest")))
    before = snapshot(chain, anchor_registry)
    block = chain.block_number()
    assert_reverts(
        BatchAlreadyAnchored,
        {"batchId": batch_id},
        send_unestimated,
        chain,
        fn(batch_id, b32("m2/root"), 5, 1, b32("m2/manifest")),
    )
    assert chain.block_number() == block + 1
    last_block_failed_tx(chain)
    assert snapshot(chain, anchor_registry) == before
    assert not chain.call(anchor_registry.functions.isAnchored(b32("m2/root")))
    # The same fixed gas is plenty for a valid anchor, so the revert above was the contract's.
    receipt = send_unestimated(chain, fn(b32("m2/batch"), b32("m2/root"), 5, 1, ZERO32))
    assert only_event(anchor_registry, receipt, "BatchAnchored")["seq"] == 1


# -- access control ----------------------------------------------------------------------------


def test_anchor_needs_the_submitter_role(chain: Chain, anchor_registry: Contract) -> None:
    stranger = funded_signer(chain)
    fns = anchor_registry.functions
    unauthorized = {"account": stranger.address.lower(), "neededRole": SUBMITTER_ROLE}
    assert_reverts(
        AccessControlUnauthorizedAccount, unauthorized, anchor, stranger, anchor_registry, "s1"
    )
    assert snapshot(chain, anchor_registry) == (0, ZERO32, False)

    receipt = chain.transact(fns.grantRole(SUBMITTER_ROLE, stranger.address))
    assert only_event(anchor_registry, receipt, "RoleGranted") == {
        "role": SUBMITTER_ROLE,
        "account": stranger.address,
        "sender": chain.address,
    }
    event = only_event(anchor_registry, anchor(stranger, anchor_registry, "s1"), "BatchAnchored")
    assert (event["submitter"], event["seq"]) == (stranger.address, 0)

    receipt = chain.transact(fns.revokeRole(SUBMITTER_ROLE, stranger.address))
    assert only_event(anchor_registry, receipt, "RoleRevoked") == {
        "role": SUBMITTER_ROLE,
        "account": stranger.address,
        "sender": chain.address,
    }
    assert_reverts(
        AccessControlUnauthorizedAccount, unauthorized, anchor, stranger, anchor_registry, "s2"
    )
    assert chain.call(fns.anchorCount()) == 1


def test_pause_and_unpause_need_the_pauser_role(chain: Chain, anchor_registry: Contract) -> None:
    submitter = funded_signer(chain)
    fns = anchor_registry.functions
    chain.transact(fns.grantRole(SUBMITTER_ROLE, submitter.address))
    for who in (funded_signer(chain), submitter):
        unauthorized = {"account": who.address.lower(), "neededRole": PAUSER_ROLE}
        assert_reverts(AccessControlUnauthorizedAccount, unauthorized, who.transact, fns.pause())
        assert not chain.call(fns.paused())
        chain.transact(fns.pause())
        assert_reverts(AccessControlUnauthorizedAccount, unauthorized, who.transact, fns.unpause())
        assert chain.call(fns.paused())
        chain.transact(fns.unpause())


def test_role_management_needs_the_admin_role(chain: Chain, anchor_registry: Contract) -> None:
    stranger = funded_signer(chain)
    fns = anchor_registry.functions
    chain.transact(fns.grantRole(PAUSER_ROLE, stranger.address))
    chain.transact(fns.grantRole(SUBMITTER_ROLE, stranger.address))
    unauthorized = {"account": stranger.address.lower(), "neededRole": DEFAULT_ADMIN_ROLE}
    for fn in (
        fns.grantRole(SUBMITTER_ROLE, Account.create().address),
        fns.grantRole(DEFAULT_ADMIN_ROLE, stranger.address),
        fns.revokeRole(SUBMITTER_ROLE, chain.address),
        fns.revokeRole(PAUSER_ROLE, stranger.address),
    ):
        assert_reverts(AccessControlUnauthorizedAccount, unauthorized, stranger.transact, fn)
    assert has_role(chain, anchor_registry, SUBMITTER_ROLE, chain.address)
    assert not has_role(chain, anchor_registry, DEFAULT_ADMIN_ROLE, stranger.address)
    # Nobody renounces a role for someone else, not even the admin.
    for who, other in ((stranger, chain.address), (chain, stranger.address)):
        assert_reverts(
            AccessControlBadConfirmation, {}, who.transact, fns.renounceRole(PAUSER_ROLE, other)
        )
    assert has_role(chain, anchor_registry, PAUSER_ROLE, stranger.address)


def test_role_changes_emit_once_and_no_ops_emit_nothing(
    chain: Chain, anchor_registry: Contract
) -> None:
    holder = funded_signer(chain)
    fns = anchor_registry.functions
    granted = {"role": PAUSER_ROLE, "account": holder.address, "sender": chain.address}
    receipt = chain.transact(fns.grantRole(PAUSER_ROLE, holder.address))
    assert only_event(anchor_registry, receipt, "RoleGranted") == granted
    receipt = chain.transact(fns.grantRole(PAUSER_ROLE, holder.address))
    assert receipt["status"] == 1 and receipt["logs"] == []
    assert has_role(chain, anchor_registry, PAUSER_ROLE, holder.address)

    receipt = chain.transact(fns.revokeRole(PAUSER_ROLE, holder.address))
    assert only_event(anchor_registry, receipt, "RoleRevoked") == granted
    receipt = chain.transact(fns.revokeRole(PAUSER_ROLE, holder.address))
    assert receipt["status"] == 1 and receipt["logs"] == []
    assert not has_role(chain, anchor_registry, PAUSER_ROLE, holder.address)

    chain.transact(fns.grantRole(PAUSER_ROLE, holder.address))
    receipt = holder.transact(fns.renounceRole(PAUSER_ROLE, holder.address))
    assert only_event(anchor_registry, receipt, "RoleRevoked") == {
        **granted,
        "sender": holder.address,
    }
    receipt = holder.transact(fns.renounceRole(PAUSER_ROLE, holder.address))
    assert receipt["status"] == 1 and receipt["logs"] == []
    assert not has_role(chain, anchor_registry, PAUSER_ROLE, holder.address)


# -- pause -------------------------------------------------------------------------------------


def test_pause_stops_anchoring_until_unpause(chain: Chain, anchor_registry: Contract) -> None:
    fns = anchor_registry.functions
    anchor(chain, anchor_registry, "before")
    receipt = chain.transact(fns.pause())
    assert only_event(anchor_registry, receipt, "Paused") == {"account": chain.address}
    paused = snapshot(chain, anchor_registry)
    assert paused[0] == 1 and paused[2] is True
    assert_reverts(EnforcedPause, {}, anchor, chain, anchor_registry, "during")
    assert snapshot(chain, anchor_registry) == paused
    # Reads go on while paused.
    assert chain.call(fns.anchorByBatch(b32("before/batch")))[:3] == (b32("before/root"), 5, 0)
    assert not chain.call(fns.isAnchored(b32("during/root")))

    receipt = chain.transact(fns.unpause())
    assert only_event(anchor_registry, receipt, "Unpaused") == {"account": chain.address}
    assert not chain.call(fns.paused())
    event = only_event(anchor_registry, anchor(chain, anchor_registry, "during"), "BatchAnchored")
    assert event["seq"] == 1


def test_pause_twice_or_unpause_while_running_reverts(
    chain: Chain, anchor_registry: Contract
) -> None:
    fns = anchor_registry.functions
    assert_reverts(ExpectedPause, {}, chain.transact, fns.unpause())
    assert not chain.call(fns.paused())
    chain.transact(fns.pause())
    assert_reverts(EnforcedPause, {}, chain.transact, fns.pause())
    assert chain.call(fns.paused())
    chain.transact(fns.unpause())
    assert_reverts(ExpectedPause, {}, chain.transact, fns.unpause())
    assert not chain.call(fns.paused())


def test_a_separate_pauser_and_the_role_check_before_the_pause_check(
    chain: Chain, anchor_registry: Contract
) -> None:
    pauser, stranger = funded_signer(chain), funded_signer(chain)
    fns = anchor_registry.functions
    chain.transact(fns.grantRole(PAUSER_ROLE, pauser.address))
    receipt = pauser.transact(fns.pause())
    assert decoded(anchor_registry, receipt, "Paused") == [{"account": pauser.address}]
    assert_reverts(EnforcedPause, {}, anchor, chain, anchor_registry, "p")
    assert_reverts(
        AccessControlUnauthorizedAccount,
        {"account": stranger.address.lower(), "neededRole": SUBMITTER_ROLE},
        anchor,
        stranger,
        anchor_registry,
        "p",
    )
    receipt = pauser.transact(fns.unpause())
    assert decoded(anchor_registry, receipt, "Unpaused") == [{"account": pauser.address}]
    event = only_event(anchor_registry, anchor(chain, anchor_registry, "p"), "BatchAnchored")
    assert (event["submitter"], event["seq"]) == (chain.address, 0)
