"""Deploy the registries and keep the deployment manifest (``<data dir>/deployment.json``).

A second ``deploy`` against the same chain does not deploy again: it reads the
manifest, checks that the registries' code really is at those addresses, and
reports the existing deployment. ``force=True`` deploys afresh.

A deployment made before the AnchorRegistry took kind 4 (the risk-alert log)
keeps its registry, and its history, for kinds 1-3: :func:`add_alert_log_registry`
deploys a current AnchorRegistry beside it, named ``AlertLogRegistry`` in the
manifest, where kind-4 batches are anchored. That old registry's code is known
by its hash (:data:`KINDS_1_TO_3_CODE_SHA256`) and accepted only with one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ledger.chain.artifacts import CONTRACT_NAMES, load_artifact
from ledger.chain.errors import DeploymentError

if TYPE_CHECKING:  # Deployment.load is used where the chain stack is not loaded
    from ledger.chain.connection import Chain

MANIFEST_FORMAT = "credit-anchor/deployment/v1"
ABI_DIR = "abi"
#: The manifest's name for the registry of kind-4 batches beside an AnchorRegistry that
#: predates kind 4 (its code is the current AnchorRegistry; its ABI file is that one's).
ALERT_LOG_REGISTRY: Final = "AlertLogRegistry"
#: SHA-256 of the deployed code of the AnchorRegistry that took kinds 1-3 only (the
#: committed artifact before kind 4; solc 0.8.37, the settings of compile_contracts.py).
KINDS_1_TO_3_CODE_SHA256: Final = "3609a0ee437817cefeeba119bb0412d285125de36aabb520dd9edaca24d18e63"
#: The kinds an AnchorRegistry of that code takes.
KINDS_1_TO_3: Final = frozenset({1, 2, 3})
#: The batch kind of the risk-alert log.
ALERT_LOG_KIND: Final = 4

#: Roles granted to the deploying account on each registry (name -> role).
ROLE_GRANTS: dict[str, tuple[str, ...]] = {
    "AnchorRegistry": ("SUBMITTER_ROLE", "PAUSER_ROLE"),
    "ConsentRegistry": ("RECORDER_ROLE",),
}


@dataclass
class RegistryInfo:
    address: str
    tx_hash: str
    block_number: int


@dataclass
class Deployment:
    """What ``deployment.json`` holds (fixed format, see DESIGN.md)."""

    chain_id: int
    rpc_kind: str
    deployer: str
    deployment_block: int
    deployed_at: str
    compiler_version: str
    registries: dict[str, RegistryInfo]
    abi_files: dict[str, str]
    sources_hash: dict[str, str] = field(default_factory=dict)
    format: str = MANIFEST_FORMAT

    @property
    def anchor_registry(self) -> str:
        return self.registries["AnchorRegistry"].address

    @property
    def consent_registry(self) -> str:
        return self.registries["ConsentRegistry"].address

    @property
    def alert_log_registry(self) -> str:
        """Where kind-4 batches are anchored: the AnchorRegistry, or the registry added
        beside one that predates kind 4."""
        info = self.registries.get(ALERT_LOG_REGISTRY)
        return self.anchor_registry if info is None else info.address

    @property
    def anchor_kinds(self) -> frozenset[int] | None:
        """The kinds anchored at the AnchorRegistry: None for all, unless kind 4 has a
        registry of its own."""
        return None if ALERT_LOG_REGISTRY not in self.registries else KINDS_1_TO_3

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        if data.get("format") != MANIFEST_FORMAT:
            raise DeploymentError(f"unknown deployment manifest format {data.get('format')!r}")
        try:
            regs = {k: RegistryInfo(**v) for k, v in data["registries"].items()}
            return cls(**{**data, "registries": regs})
        except (KeyError, TypeError) as exc:
            raise DeploymentError(f"deployment manifest is incomplete: {exc}") from None

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise DeploymentError(
                f"no deployment at {path}", hint="run `ledger deploy` first"
            ) from None
        except ValueError:
            raise DeploymentError(f"{path} is not valid JSON") from None

    def save(self, path: Path) -> None:
        _write_atomic(path, json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def role_id(name: str) -> bytes:
    """The bytes32 id of an AccessControl role (``keccak256("NAME")``)."""
    from eth_utils.crypto import keccak

    return keccak(text=name)


def check_deployment(chain: Chain, deployment: Deployment) -> None:
    """Raise :class:`DeploymentError` unless the manifest matches code on this chain."""
    if deployment.chain_id != chain.chain_id:
        raise DeploymentError(
            f"the deployment is for chain {deployment.chain_id}, "
            f"this node is chain {chain.chain_id}"
        )
    named = [(name, name) for name in CONTRACT_NAMES]
    if ALERT_LOG_REGISTRY in deployment.registries:
        named.append((ALERT_LOG_REGISTRY, "AnchorRegistry"))
    for name, contract in named:
        address = deployment.registries[name].address
        code = chain.code_at(address)
        expected = bytes.fromhex(load_artifact(contract).deployed_bytecode.removeprefix("0x"))
        if not code:
            raise DeploymentError(
                f"no contract code at {address} ({name}) on chain {chain.chain_id}",
                hint="the chain was reset or this is another network: run `ledger deploy --force`",
            )
        if code == expected:
            continue
        if name == "AnchorRegistry" and takes_kinds_1_to_3_only(code):
            if ALERT_LOG_REGISTRY in deployment.registries:
                continue  # kinds 1-3 stay there; kind 4 goes to the registry beside it
            raise DeploymentError(
                f"the AnchorRegistry at {address} predates kind 4 (the risk-alert log)",
                hint="run `ledger deploy --alert-log-registry` to keep it for kinds 1-3 "
                "and anchor the alert log at a registry of its own",
            )
        raise DeploymentError(
            f"the code at {address} is not this version's {contract}",
            hint="run `ledger deploy --force` to deploy the current contracts",
        )


def takes_kinds_1_to_3_only(code: bytes) -> bool:
    """Whether ``code`` is the AnchorRegistry that predates kind 4."""
    return hashlib.sha256(code).hexdigest() == KINDS_1_TO_3_CODE_SHA256


def deploy(chain: Chain, data_dir: Path, *, force: bool = False) -> tuple[Deployment, bool]:
    """Deploy both registries unless a verified deployment exists.

    Returns the deployment and whether it was created by this call.
    """
    path = data_dir / "deployment.json"
    if path.exists() and not force:
        existing = Deployment.load(path)
        check_deployment(chain, existing)
        return existing, False
    registries = {name: _deploy_registry(chain, name) for name in CONTRACT_NAMES}
    deployment = Deployment(
        chain_id=chain.chain_id,
        rpc_kind=chain.kind,
        deployer=chain.address.lower(),
        deployment_block=min(r.block_number for r in registries.values()),
        deployed_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        compiler_version=load_artifact(CONTRACT_NAMES[0]).compiler_version,
        registries=registries,
        abi_files=_write_abis(data_dir),
        sources_hash={n: load_artifact(n).sources_hash for n in CONTRACT_NAMES},
    )
    deployment.save(path)
    return deployment, True


def _deploy_registry(chain: Chain, name: str) -> RegistryInfo:
    """Deploy the contract ``name`` and grant its roles to the deploying account."""
    artifact = load_artifact(name)
    address, receipt = chain.deploy(artifact, chain.address)
    contract = chain.contract(artifact, address)
    for role in ROLE_GRANTS[name]:
        chain.transact(contract.functions.grantRole(role_id(role), chain.address))
    return RegistryInfo(
        address=address.lower(),
        tx_hash=receipt["transactionHash"].to_0x_hex(),
        block_number=int(receipt["blockNumber"]),
    )


def add_alert_log_registry(chain: Chain, data_dir: Path) -> tuple[Deployment, bool]:
    """Give a deployment whose AnchorRegistry predates kind 4 a registry for the alert log.

    The old registry keeps every anchor it holds and goes on taking kinds 1-3, so no
    batch, proof bundle or audit of the past changes; a current AnchorRegistry is
    deployed beside it (``AlertLogRegistry`` in the manifest) for kind 4. Returns
    the deployment and whether it was changed by this call: run again, or on a
    deployment whose AnchorRegistry takes kind 4 already, it checks the
    deployment and changes nothing.
    """
    path = data_dir / "deployment.json"
    existing = Deployment.load(path)
    if (
        ALERT_LOG_REGISTRY in existing.registries
        or existing.chain_id != chain.chain_id
        or not takes_kinds_1_to_3_only(chain.code_at(existing.anchor_registry))
    ):
        check_deployment(chain, existing)  # raises unless it is whole and current
        return existing, False
    registries = {
        **existing.registries,
        ALERT_LOG_REGISTRY: _deploy_registry(chain, "AnchorRegistry"),
    }
    sources = {
        **existing.sources_hash,
        ALERT_LOG_REGISTRY: load_artifact("AnchorRegistry").sources_hash,
    }
    moved = replace(
        existing, registries=registries, abi_files=_write_abis(data_dir), sources_hash=sources
    )
    check_deployment(chain, moved)
    moved.save(path)
    return moved, True


def _write_abis(data_dir: Path) -> dict[str, str]:
    files = {}
    for name in CONTRACT_NAMES:
        rel = f"{ABI_DIR}/{name}.json"
        _write_atomic(data_dir / rel, json.dumps(load_artifact(name).abi, indent=2) + "\n")
        files[name] = rel
    return files
