"""The README's "Deploying to a local anvil node" block, run verbatim by a shell.

It runs in a fresh directory that looks like a clone (every tracked top-level entry, plus
the installed ``.venv`` and ``node_modules``, linked from this checkout), so nothing the
block writes (``.anvil/``, the data dir, the CSV, the bundle) lands in the checkout, and a
developer's own ``.ledger-anvil`` is never touched. The only thing the test chooses is
``ANVIL_PORT``: the README makes the port a variable (default 8545), and the test gives it
a free one so that runs on a shared machine do not collide.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
from pathlib import Path

import pytest

from scripts import devnode
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
HEADING = "## Deploying to a local anvil node"


def anvil_block() -> str:
    section = (REPO / "README.md").read_text(encoding="utf-8").split(HEADING, 1)[1]
    block = re.search(r"```sh\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    assert block, f"{HEADING} has no sh block"
    return block.group(1)


def fresh_clone(tmp_path: Path) -> Path:
    """A directory with this checkout's tracked top-level entries and its installed tools."""
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in {line.split("/", 1)[0] for line in listed.splitlines()} | {".venv", "node_modules"}:
        (clone / name).symlink_to(REPO / name)
    return clone


def shell_env(port: int) -> dict[str, str]:
    """The caller's environment as a new shell would have it: no LEDGER_* and no outer make."""
    dropped = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_") and k not in dropped}
    return env | {"ANVIL_PORT": str(port)}


def make(target: str, clone: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=clone, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_block_deploys_submits_bundles_and_verifies() -> None:
    commands = [shlex.split(line, comments=True) for line in anvil_block().splitlines()]
    ledger = [c[1] for c in commands if c and c[0] == ".venv/bin/ledger"]
    assert ledger == ["deploy", "submit", "bundle", "verify"]
    assert commands[0] == ["make", "anvil"]
    assert "--fund-from-dev-node" in commands[2]


@pytest.mark.rpc
def test_the_readme_anvil_block_runs_as_written(tmp_path: Path) -> None:
    clone, port = fresh_clone(tmp_path), free_port()
    env = shell_env(port)
    try:
        done = subprocess.run(
            ["bash", "-e", "-x", "-c", anvil_block()],
            cwd=clone, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        make("anvil-stop", clone, env)  # whatever happened, no node is left behind
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(anvil_setBalance)" in done.stdout
    assert re.search(r"VALID: leaf 17 of 100 .* on chain 31337", done.stdout)
    assert f"anvil on http://127.0.0.1:{port} stopped" in done.stdout
    deployment = json.loads((clone / ".ledger-anvil" / "deployment.json").read_text())
    assert (deployment["rpc_kind"], deployment["chain_id"]) == ("json-rpc", 31337)
    bundle = json.loads((clone / "RPT-2026-17.bundle.json").read_text())
    assert bundle["anchor"]["registry"] == deployment["registries"]["AnchorRegistry"]["address"]
    assert devnode.answering(devnode.url_for(port)) is None
    assert not (clone / ".anvil" / f"{port}.pid").exists()


@pytest.mark.rpc
def test_make_anvil_says_so_when_the_port_is_taken(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = shell_env(taken.getsockname()[1])
        done = make("anvil", clone, env)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "anvil exited with" in errors[0], done.stderr
    assert not (clone / ".anvil" / f"{env['ANVIL_PORT']}.pid").exists()
