"""ledger.proofs is pure data and math: a proof verifies without web3 (DESIGN: OpenTimestamps)."""

from __future__ import annotations

import ast
from pathlib import Path

import ledger.proofs

PROOFS_DIR = Path(ledger.proofs.__file__).parent
CHAIN_MODULES = ("web3", "eth", "eth_abi", "eth_account", "eth_tester", "eth_utils", "solcx")


def _imported_modules(source: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_module_in_ledger_proofs_imports_a_chain_library() -> None:
    sources = sorted(PROOFS_DIR.rglob("*.py"))
    assert sources
    for source in sources:
        for name in _imported_modules(source):
            top = name.split(".")[0]
            assert top not in CHAIN_MODULES, f"{source.name} imports {name}"
            assert not name.startswith("ledger.chain"), f"{source.name} imports {name}"
