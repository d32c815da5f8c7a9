"""``ledger init`` / ``ledger deploy`` / ``ledger demo`` as a user runs them: real processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from ledger.store import schema
from ledger.store.db import STORE_FILE
from tests._stubnode import stub_node
from tests.cli._cli import one_error_line
from tests.conftest import COMMAND_TIMEOUT, AnvilNode, ledger_cli


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    full_env.update(env or {})
    return subprocess.run(
        [ledger_cli(), *args], capture_output=True, text=True, env=full_env, timeout=COMMAND_TIMEOUT
    )


def test_init_creates_a_private_data_dir(tmp_path: Path) -> None:
    target = tmp_path / "d"
    done = run("init", "--data-dir", str(target), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["account"].startswith("0x") and out["account"] == out["account"].lower()
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert stat.S_IMODE((target / "chain.key").stat().st_mode) == 0o600
    # The store is made at this release's schema revision.
    assert out["store_revision"] == schema.head()
    assert (target / STORE_FILE).is_file()
    key = (target / "chain.key").read_text().strip()
    assert key not in done.stdout + done.stderr
    again = run("init", "--data-dir", str(target), "--json")
    assert json.loads(again.stdout)["account"] == out["account"]


def test_deploy_then_deploy_again_on_the_embedded_chain(tmp_path: Path) -> None:
    target = tmp_path / "d"
    first = run("deploy", "--data-dir", str(target), "--json")
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    assert created["created"] is True
    assert created["rpc_kind"] == "eth-tester"
    second = run("deploy", "--json", env={"LEDGER_DATA_DIR": str(target)})
    assert second.returncode == 0, second.stderr
    existing = json.loads(second.stdout)
    assert existing["created"] is False
    assert existing["registries"] == created["registries"]
    table = run("deploy", "--data-dir", str(target))
    assert "Already deployed" in table.stdout
    assert created["registries"]["AnchorRegistry"]["address"] in table.stdout


@pytest.mark.rpc
def test_deploy_to_a_json_rpc_node(tmp_path: Path, anvil: AnvilNode) -> None:
    target = tmp_path / "d"
    account = json.loads(run("init", "--data-dir", str(target), "--json").stdout)["account"]
    anvil.fund(account)
    done = run("deploy", "--rpc", anvil.url, "--data-dir", str(target), "--json")
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    assert manifest["rpc_kind"] == "json-rpc"
    assert manifest["chain_id"] == 31337
    assert manifest["deployer"] == account


def test_unreachable_node_is_one_line_and_non_zero(tmp_path: Path) -> None:
    done = run(
        "deploy", "--rpc", "http://127.0.0.1:9/secret-api-key", "--data-dir", str(tmp_path / "d")
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot reach any JSON-RPC node (http://127.0.0.1:9)")
    assert "secret-api-key" not in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.rpc
def test_unfunded_account_on_a_real_node_says_so(tmp_path: Path, anvil: AnvilNode) -> None:
    done = run("deploy", "--rpc", anvil.url, "--data-dir", str(tmp_path / "fresh"))
    assert done.returncode == 1
    assert "cannot pay for gas" in done.stderr
    assert "`ledger deploy --fund-from-dev-node`" in done.stderr  # says what to do on anvil
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.rpc
def test_fund_from_dev_node_deploys_from_a_fresh_data_dir(tmp_path: Path, anvil: AnvilNode) -> None:
    target = str(tmp_path / "fresh")
    done = run("deploy", "--rpc", anvil.url, "--fund-from-dev-node", "--data-dir", target)
    assert done.returncode == 0, done.stderr
    account = json.loads(run("init", "--data-dir", target, "--json").stdout)["account"]
    assert f"funded {account} on the development node (anvil_setBalance)" in done.stdout
    again = run("deploy", "--fund-from-dev-node", "--data-dir", target, "--json",
                env={"LEDGER_RPC_URL": anvil.url})  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["funded_by"] == "anvil_setBalance"
    assert json.loads(again.stdout)["created"] is False


def test_fund_from_dev_node_is_refused_on_another_node(tmp_path: Path) -> None:
    """A JSON-RPC stub (tests/_stubnode.py) stands in for a production node."""
    with stub_node() as node:
        done = run(
            "deploy", "--rpc", node.url, "--fund-from-dev-node", "--data-dir", str(tmp_path / "d")
        )
    line = one_error_line(done)
    assert done.returncode == 1
    assert f"the node at {node.url} (chain 1) is not a development node" in line
    assert "only for a local anvil or Hardhat node" in line
    assert "anvil_setBalance" in node.methods
    assert "eth_sendRawTransaction" not in node.methods
    assert not (tmp_path / "d" / "deployment.json").exists()


def test_fund_from_dev_node_needs_a_node(tmp_path: Path) -> None:
    done = run("deploy", "--fund-from-dev-node", "--data-dir", str(tmp_path / "d"))
    assert "--fund-from-dev-node needs --rpc URL" in one_error_line(done)
    assert done.returncode == 2


def test_deploy_while_the_chain_is_held_names_the_holder(tmp_path: Path) -> None:
    from ledger.chain.embedded import EmbeddedChain

    target = tmp_path / "d"
    held = EmbeddedChain(target, holder="ledger serve on http://127.0.0.1:8000")
    try:
        done = run("deploy", "--data-dir", str(target))
    finally:
        held.close()
    assert done.returncode == 1
    assert "in use by ledger serve" in done.stderr
    assert "API" in done.stderr


def test_every_command_has_help_with_an_example() -> None:
    for command in ("init", "deploy", "demo"):
        done = run(command, "--help")
        assert done.returncode == 0
        assert "Example:" in done.stdout


def test_demo_runs_in_a_fresh_data_dir(tmp_path: Path) -> None:
    done = run("demo", "--data-dir", str(tmp_path / "demo"))
    assert done.returncode == 0, done.stderr
    assert "AnchorRegistry" in done.stdout
    assert "check by BANK-A: granted (valid)" in done.stdout
    assert "check by BANK-A: refused (revoked)" in done.stdout
    assert "now answers: erased" in done.stdout
    assert (tmp_path / "demo" / "deployment.json").exists()
    refused = run("demo", "--data-dir", str(tmp_path / "demo"))
    assert refused.returncode == 2
    assert "not empty" in refused.stderr
