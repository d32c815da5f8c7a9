"""The compiled contracts, as committed by ``scripts/compile_contracts.py``.

Deploying and calling the registries needs only these JSON files, never Node or
solc. Each artifact records the compiler version and a hash of the sources it
was built from; a test recompiles and fails when they are stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ledger.errors import ConfigurationError

CONTRACT_NAMES = ("AnchorRegistry", "ConsentRegistry")


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    sources_hash: str


@cache
def load_artifact(name: str) -> Artifact:
    """Load a committed artifact by contract name."""
    if name not in CONTRACT_NAMES:
        raise ConfigurationError(f"no compiled contract named {name!r}")
    path = resources.files("ledger.chain").joinpath("artifacts", f"{name}.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"compiled artifact {name}.json is missing", hint="run `make contracts`"
        ) from None
    return Artifact(
        name=name,
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        compiler_version=data["compiler"]["version"],
        sources_hash=data["sourcesHash"],
    )


def all_abis() -> list[list[dict[str, Any]]]:
    """The ABIs of every registry, for decoding reverts and logs."""
    return [load_artifact(name).abi for name in CONTRACT_NAMES]
