"""Deploy the registries and keep the deployment manifest (``<data dir>/deployment.json``).

A second ``deploy`` against the same chain does not deploy again: it reads the
manifest, checks that the registries' code really is at those addresses, and
reports the existing deployment. ``force=True`` deploys afresh.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.chain.artifacts import CONTRACT_NAMES, load_artifact
from ledger.chain.errors import DeploymentError

if TYPE_CHECKING:  # Deployment.load is used where the chain stack is not loaded
    from ledger.chain.connection import Chain

MANIFEST_FORMAT = "credit-anchor/deployment/v1"
ABI_DIR = "abi"

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
    for name in CONTRACT_NAMES:
        address = deployment.registries[name].address
        code = chain.code_at(address)
        expected = bytes.fromhex(load_artifact(name).deployed_bytecode.removeprefix("0x"))
        if not code:
            raise DeploymentError(
                f"no contract code at {address} ({name}) on chain {chain.chain_id}",
                hint="the chain was reset or this is another network: run `ledger deploy --force`",
            )
        if code != expected:
            raise DeploymentError(
                f"the code at {address} is not this version's {name}",
                hint="run `ledger deploy --force` to deploy the current contracts",
            )


def deploy(chain: Chain, data_dir: Path, *, force: bool = False) -> tuple[Deployment, bool]:
    """Deploy both registries unless a verified deployment exists.

    Returns the deployment and whether it was created by this call.
    """
    path = data_dir / "deployment.json"
    if path.exists() and not force:
        existing = Deployment.load(path)
        check_deployment(chain, existing)
        return existing, False
    registries: dict[str, RegistryInfo] = {}
    for name in CONTRACT_NAMES:
        artifact = load_artifact(name)
        address, receipt = chain.deploy(artifact, chain.address)
        registries[name] = RegistryInfo(
            address=address.lower(),
            tx_hash=receipt["transactionHash"].to_0x_hex(),
            block_number=int(receipt["blockNumber"]),
        )
        contract = chain.contract(artifact, address)
        for role in ROLE_GRANTS[name]:
            chain.transact(contract.functions.grantRole(role_id(role), chain.address))
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


def _write_abis(data_dir: Path) -> dict[str, str]:
    files = {}
    for name in CONTRACT_NAMES:
        rel = f"{ABI_DIR}/{name}.json"
        _write_atomic(data_dir / rel, json.dumps(load_artifact(name).abi, indent=2) + "\n")
        files[name] = rel
    return files
