"""The committed artifacts are what the committed sources compile to."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from ledger.chain.artifacts import CONTRACT_NAMES, load_artifact

REPO = Path(__file__).resolve().parents[2]


def _compile_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "compile_contracts", REPO / "scripts" / "compile_contracts.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["compile_contracts"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_artifacts_are_not_stale() -> None:
    assert shutil.which("node"), "Node is needed to recompile (make setup installs solc)"
    problems = _compile_module().check()
    assert problems == []


def test_staleness_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = _compile_module()
    stale = tmp_path / "artifacts"
    shutil.copytree(REPO / "ledger" / "chain" / "artifacts", stale)
    data = json.loads((stale / "AnchorRegistry.json").read_text())
    data["bytecode"] = data["bytecode"][:-2] + ("00" if data["bytecode"][-2:] != "00" else "01")
    (stale / "AnchorRegistry.json").write_text(json.dumps(data))
    monkeypatch.setattr(module, "ARTIFACTS_DIR", stale)
    problems = module.check()
    assert any("AnchorRegistry" in p for p in problems)


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_artifact_records_its_compiler_and_sources(name: str) -> None:
    art = load_artifact(name)
    assert art.compiler_version.startswith("0.8.37+commit.")
    assert art.sources_hash.startswith("0x") and len(art.sources_hash) == 66
    assert art.bytecode.startswith("0x") and art.deployed_bytecode.startswith("0x")
