"""Shared fixtures: data dirs, the embedded chain, a real anvil node; waiting on conditions.

The anvil binary comes from the npm package ``@foundry-rs/anvil`` (``npm ci``
installs it under node_modules); ``scripts/devnode.py`` (``make anvil``) finds
and starts it, and so do these fixtures. The fixture starts it on a free loopback
port and stops it at the end of the session; it never uses anvil's unlocked accounts,
only ``anvil_setBalance`` to fund our locally held signer.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, settings

from ledger.chain import Chain, Deployment, deploy
from ledger.chain.signer import load_account
from scripts import devnode
from scripts.devnode import rpc

REPO = Path(__file__).resolve().parent.parent
#: How long a test waits for another thread or process to get somewhere. A pass
#: returns as soon as the condition holds; only a failure waits this long, so it
#: is sized for a laptop busy with other work, not for a quiet machine.
WAIT_SECONDS = 60.0
#: Seconds for one CLI command or script run as a subprocess, to catch a hung one.
#: They take seconds on a quiet machine and ten times that on a loaded one (a bare
#: `ledger deploy` took 20 s at load average 12 on two cores).
COMMAND_TIMEOUT = 900.0

# Hypothesis's 200 ms deadline per example and its "data generation is too slow"
# check measure the machine, not the code: on a loaded laptop they fail tests
# whose behaviour is fine. Speed is measured by scripts/bench.py instead.
settings.register_profile("ledger", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ledger")

T = TypeVar("T")

# The PostgreSQL fixtures (`postgres`, `pg_url`, `db_url`): a throw-away cluster per worker.
pytest_plugins = ("tests._postgres",)


def wait_until(
    condition: Callable[[], T], *, timeout: float = WAIT_SECONDS, interval: float = 0.01
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    Fails the test after ``timeout`` seconds. Tests wait on this instead of
    sleeping a fixed time, so a slow machine makes them slower, not wrong.
    """
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {condition}"
        time.sleep(interval)
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AnvilNode:
    """A running anvil process on a loopback port, started as ``make anvil`` starts one."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = devnode.url_for(self.port)
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = devnode.spawn(self.port, self._log)
        try:
            devnode.wait_ready(self.proc, self.url, timeout=WAIT_SECONDS)
        except devnode.DevNodeError:
            self.stop()
            raise

    def fund(self, address: str, wei: int = 10**24) -> None:
        rpc(self.url, "anvil_setBalance", [address, hex(wei)], timeout=WAIT_SECONDS)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    node = AnvilNode(tmp_path_factory.mktemp("anvil") / "anvil.log")
    yield node
    node.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture(scope="session")
def deployed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``ledger deploy`` leaves in a data dir (key, embedded chain, deployment.json;
    it opens no store), made once per test process for :func:`deploy_copy` to copy."""
    path = tmp_path_factory.mktemp("deployed-template") / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    done = subprocess.run(
        [ledger_cli(), "deploy", "--data-dir", str(path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=COMMAND_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"] is True
    return path


def copy_deployment(template: Path, data_dir: Path) -> Path:
    """Makes ``data_dir`` (new or empty) what ``ledger deploy`` on the embedded chain
    leaves there, by copying ``template`` (:func:`deployed_template`)."""
    shutil.copytree(template, data_dir, dirs_exist_ok=True)
    return data_dir


@pytest.fixture
def deploy_copy(deployed_template: Path) -> Callable[[Path], Path]:
    """:func:`copy_deployment` of this process's template: for tests of what comes after."""
    return functools.partial(copy_deployment, deployed_template)


@pytest.fixture
def embedded_chain(data_dir: Path) -> Iterator[Chain]:
    chain = Chain.embedded(data_dir, holder="pytest")
    yield chain
    chain.close()


def rpc_chain(node: AnvilNode, data_dir: Path) -> Chain:
    account = load_account(data_dir)
    node.fund(account.address)
    return Chain.json_rpc(node.url, account, receipt_timeout=WAIT_SECONDS)


@pytest.fixture(params=["embedded", pytest.param("anvil", marks=pytest.mark.rpc)])
def any_chain(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Chain]:
    """The same test against the embedded chain and against a real anvil node."""
    if request.param == "embedded":
        chain = Chain.embedded(data_dir, holder="pytest")
    else:
        chain = rpc_chain(request.getfixturevalue("anvil"), data_dir)
    yield chain
    chain.close()


@pytest.fixture
def deployed(any_chain: Chain, data_dir: Path) -> tuple[Chain, Deployment]:
    deployment, _ = deploy(any_chain, data_dir)
    return any_chain, deployment


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LEDGER_"):
            monkeypatch.delenv(name)


def ledger_cli() -> str:
    exe = shutil.which("ledger", path=str(REPO / ".venv" / "bin")) or shutil.which("ledger")
    assert exe, "the ledger console script is not installed (make setup)"
    return exe


def stored_records(data_dir: Path, db_url: str | None = None) -> list[dict[str, object]]:
    """The desensitised records (with salts) as the store holds them, in leaf order."""
    import json

    from ledger.store import Store
    from tests._leaves import all_leaves

    store = Store.open(data_dir, db_url)
    try:
        with store.session() as s:
            return [json.loads(x.canonical) for x in all_leaves(s) if x.canonical is not None]
    finally:
        store.close()
