"""Compile contracts/ with the pinned npm solc and write the committed artifacts.

    .venv/bin/python scripts/compile_contracts.py           # (re)write ledger/chain/artifacts/
    .venv/bin/python scripts/compile_contracts.py --check   # exit 1 if those files are stale

The compiler is the npm package ``solc`` (solcjs) behind ``scripts/solc-npm``, a shim with the
command line of the native binary, driven through py-solc-x's ``compile_standard``. Nothing is
ever downloaded. Any compiler error *or warning* fails the run.

Each artifact ``<Name>.json`` holds ``contractName``, ``compiler`` (name, full version, the
settings below), ``sourcesHash``, ``abi``, ``bytecode`` and ``deployedBytecode``, written with
sorted keys and a 2-space indent so a re-run is byte-identical.

``sourcesHash`` is ``"0x" + sha256(json)`` where ``json`` is the compact UTF-8 JSON
(``separators=(",", ":")``, ``ensure_ascii=False``) of the list of ``[path, content]`` pairs,
sorted by path, of every source unit that went into the compile: ours and the OpenZeppelin
files solc actually imported (the keys of the output's ``sources``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import solcx
from solcx.exceptions import SolcError

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = REPO_ROOT / "contracts"
NODE_MODULES = REPO_ROOT / "node_modules"
ARTIFACTS_DIR = REPO_ROOT / "ledger" / "chain" / "artifacts"
SOLC_BINARY = REPO_ROOT / "scripts" / "solc-npm"

# Only deployable contracts get an artifact; interfaces and OpenZeppelin do not.
ARTIFACT_CONTRACTS = ("AnchorRegistry", "ConsentRegistry")

# Measured on the embedded chain (eth-tester / py-evm, Prague rules):
# viaIR lowers anchor() by ~430 gas, recordConsent() by ~1300 and both deployments by 5-20%
# against the legacy pipeline; runs=200 balances deployment size against call cost (runs=10000
# would save ~60 gas per anchor for ~170k more gas to deploy). bytecodeHash "none" keeps the
# bytecode independent of comments and paths (its CBOR tail only carries the solc version).
SETTINGS: dict[str, Any] = {
    "evmVersion": "cancun",
    "viaIR": True,
    "optimizer": {"enabled": True, "runs": 200},
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]},
    },
}

FAILING_SEVERITIES = ("error", "warning")


class CompileError(Exception):
    """The compiler failed, warned, or produced something unexpected."""


def read_sources() -> dict[str, str]:
    """Our Solidity sources, keyed by their path relative to the repository root."""
    return {
        path.relative_to(REPO_ROOT).as_posix(): _read_text(path)
        for path in sorted(CONTRACTS_DIR.rglob("*.sol"))
    }


def compiler_version() -> str:
    """Full version of the shimmed compiler, e.g. ``0.8.37+commit.f401782d.Emscripten.clang``."""
    out = subprocess.run(
        [str(SOLC_BINARY), "--version"], check=True, capture_output=True, text=True
    ).stdout
    match = re.search(r"^Version: (\S+)$", out, re.MULTILINE)
    if match is None:
        raise CompileError(f"cannot read a version from `{SOLC_BINARY} --version`: {out!r}")
    return match.group(1)


def compile_all() -> dict[str, dict[str, Any]]:
    """Compile every source and return the artifact of each deployable contract by name."""
    sources = read_sources()
    if not sources:
        raise CompileError(f"no Solidity sources under {CONTRACTS_DIR}")
    output = _run_compiler(sources)
    used = {unit: _resolve_source(unit, sources) for unit in output.get("sources", {})}
    sources_hash = _sources_hash(used)
    compiler = {"name": "solc", "version": compiler_version(), "settings": SETTINGS}
    artifacts = {}
    for name in ARTIFACT_CONTRACTS:
        compiled = output.get("contracts", {}).get(f"contracts/{name}.sol", {}).get(name)
        if compiled is None:
            raise CompileError(f"the compiler produced no contract {name} in contracts/{name}.sol")
        artifacts[name] = {
            "contractName": name,
            "compiler": compiler,
            "sourcesHash": sources_hash,
            "abi": compiled["abi"],
            "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
        }
    return artifacts


def render(artifact: dict[str, Any]) -> str:
    """The exact text of an artifact file."""
    return json.dumps(artifact, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def artifact_path(name: str) -> Path:
    """Where the artifact of contract ``name`` is committed."""
    return ARTIFACTS_DIR / f"{name}.json"


def write_all() -> list[Path]:
    """Compile and (re)write every artifact; return the paths written."""
    artifacts = compile_all()
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artifact in artifacts.items():
        path = artifact_path(name)
        path.write_text(render(artifact), encoding="utf-8", newline="\n")
        written.append(path)
    return written


def check() -> list[str]:
    """Recompile in memory; return one message per missing or stale artifact (empty: fresh)."""
    problems = []
    for name, artifact in compile_all().items():
        path = artifact_path(name)
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        if not path.is_file():
            problems.append(f"{shown} is missing")
        elif _read_text(path) != render(artifact):
            problems.append(f"{shown} is stale (differs from a fresh compile)")
    return problems


def _run_compiler(sources: dict[str, str]) -> dict[str, Any]:
    standard_input = {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in sources.items()},
        "settings": SETTINGS,
    }
    try:
        output: dict[str, Any] = solcx.compile_standard(standard_input, solc_binary=SOLC_BINARY)
    except SolcError as exc:
        detail = exc.message if exc.error_dict else f"{exc.message}\n{exc.stderr_data or ''}"
        raise CompileError(f"solc failed:\n{detail.strip()}") from exc
    failures = [e for e in output.get("errors", []) if e.get("severity") in FAILING_SEVERITIES]
    if failures:
        text = "\n".join(e.get("formattedMessage", e.get("message", "")) for e in failures)
        raise CompileError(f"solc reported {len(failures)} error(s)/warning(s):\n{text.strip()}")
    return output


def _resolve_source(unit: str, sources: dict[str, str]) -> str:
    """Content of a source unit, found the way scripts/solc-npm's import callback finds it."""
    if unit in sources:
        return sources[unit]
    roots = (NODE_MODULES,) if unit.startswith("@") else (REPO_ROOT, NODE_MODULES)
    for root in roots:
        path = (root / unit).resolve()
        if path.is_relative_to(root) and path.is_file():
            return _read_text(path)
    raise CompileError(f"cannot find imported source {unit} to hash it")


def _sources_hash(sources: dict[str, str]) -> str:
    pairs = sorted([unit, text] for unit, text in sources.items())
    blob = json.dumps(pairs, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return "0x" + hashlib.sha256(blob).hexdigest()


def _read_text(path: Path) -> str:
    # Bytes as they are: no newline translation, exactly what the compiler was given.
    return path.read_bytes().decode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if artifacts are stale"
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check()
            for problem in problems:
                print(
                    f"error: {problem}; run `python scripts/compile_contracts.py`", file=sys.stderr
                )
            if problems:
                return 1
            print(f"artifacts up to date: {', '.join(ARTIFACT_CONTRACTS)}")
            return 0
        for path in write_all():
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        return 0
    except CompileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
