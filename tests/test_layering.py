"""No import cycles between ledger's subpackages and api, deferred imports included.

Every ``import`` and ``from ... import`` in ``ledger/`` and ``api/`` is collected
with :mod:`ast`, wherever it stands: at the top of a module, inside a function, or
under ``if TYPE_CHECKING``. A cycle hidden behind a deferred import is still a
cycle: the two packages cannot be read, tested or replaced one without the other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The units of layering: each ledger subpackage (ledger.chain, ledger.consent, ...),
# api with its routers, and each top-level ledger module on its own: ledger.errors
# sits below every package, ledger.wiring above anchoring and consent, which it opens.


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _unit(module: str) -> str | None:
    """The layering unit ``module`` belongs to; None for modules outside ours."""
    parts = module.split(".")
    if parts[0] == "api":
        return "api"
    if parts[0] != "ledger":
        return None
    return ".".join(parts[:2])  # "ledger" itself: its __init__, which runs first


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imported(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """Every module named by an import statement anywhere in ``tree``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            # ``from ledger import chain`` imports the module ledger.chain.
            for alias in node.names:
                if _is_module(f"{target}.{alias.name}"):
                    yield f"{target}.{alias.name}"


def _edges() -> dict[tuple[str, str], list[str]]:
    """(importer unit, imported unit) -> where: 'ledger/consent/service.py: ledger.store'."""
    edges: dict[tuple[str, str], list[str]] = {}
    for top in ("ledger", "api"):
        for path in sorted((ROOT / top).rglob("*.py")):
            module = _module_name(path)
            source_unit = _unit(module)
            assert source_unit is not None
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for target in _imported(tree, module, path.name == "__init__.py"):
                target_unit = _unit(target)
                if target_unit is None or target_unit == source_unit:
                    continue
                where = f"{path.relative_to(ROOT)}: {target}"
                edges.setdefault((source_unit, target_unit), []).append(where)
    return edges


def _cycles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """The strongly connected components with more than one unit (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for src, dst in edges:
        graph.setdefault(src, set()).add(dst)
        graph.setdefault(dst, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # depth is bounded by the dozen units
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _describe(component: list[str], edges: dict[tuple[str, str], list[str]]) -> str:
    lines = [" <-> ".join(component)]
    for (src, dst), where in sorted(edges.items()):
        if src in component and dst in component:
            lines.append(f"  {src} -> {dst}:")
            lines.extend(f"    {w}" for w in where)
    return "\n".join(lines)


def test_units_are_found() -> None:
    units = {unit for pair in _edges() for unit in pair}
    assert {"api", "ledger.chain", "ledger.consent", "ledger.errors", "ledger.store"} <= units


def test_deferred_imports_are_seen() -> None:
    tree = ast.parse("def f():\n    from ledger.consent import receipt, Subject\n")
    assert list(_imported(tree, "ledger.privacy.keys", False)) == [
        "ledger.consent",
        "ledger.consent.receipt",
    ]


def test_relative_imports_resolve() -> None:
    tree = ast.parse(
        "from ..chain import errors\nfrom . import receipt\nfrom ledger import jsontext"
    )
    assert list(_imported(tree, "ledger.consent.service", False)) == [
        "ledger.chain",
        "ledger.chain.errors",
        "ledger.consent",
        "ledger.consent.receipt",
        "ledger",
        "ledger.jsontext",
    ]


def test_a_cycle_is_found() -> None:
    edges = {("a", "b"): ["x"], ("b", "c"): ["y"], ("c", "a"): ["z"], ("c", "d"): ["w"]}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_no_cycles_between_packages() -> None:
    edges = _edges()
    cycles = _cycles(edges)
    if cycles:
        pytest.fail(
            "import cycles between packages:\n" + "\n".join(_describe(c, edges) for c in cycles)
        )
