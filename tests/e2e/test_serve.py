"""``ledger serve`` as an operator runs it: a real uvicorn process on a loopback port."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from api.config import ApiSettings
from ledger.records import synthetic_rows, write_csv
from tests._keys import api_key, bearer
from tests.conftest import (
    COMMAND_TIMEOUT,
    WAIT_SECONDS,
    copy_deployment,
    free_port,
    ledger_cli,
    wait_until,
)

#: uvicorn plus the chain and store open in well under this on an idle machine.
START_TIMEOUT = 120.0
#: Per request: answers take milliseconds, but a loaded machine may stall a process
#: for seconds, and httpx's default of 5 s then fails a request that would succeed.
HTTP_TIMEOUT = 60.0
#: The tests' own requests to a served process. Like ``httpx.get`` and ``httpx.post``
#: (a new connection for each request, none kept open, so a killed server is never
#: asked on a connection of before), without building a new client and its TLS
#: context for each call: that costs ~50 ms of CPU, against ~0.3 ms here, and polls
#: ask many times a second. httpx clients may be shared between threads.
HTTP = httpx.Client(timeout=HTTP_TIMEOUT, limits=httpx.Limits(max_keepalive_connections=0))


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["LEDGER_DATA_DIR"] = str(data_dir)
    return env


def _ledger(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ledger_cli(), *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )


def _key(data_dir: Path, name: str, role: str, institution: str | None = None) -> dict[str, str]:
    """Authorization headers with a new API key (as ``ledger partner add`` makes it)."""
    return bearer(api_key(data_dir, name, role, institution=institution))


@contextmanager
def serving(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """A real ``ledger serve`` on a free loopback port, ready; its base URL."""
    with serve_process(env, log_path) as (url, _proc):
        yield url


@contextmanager
def serve_process(
    env: dict[str, str], log_path: Path, *args: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like :func:`serving`, and the process too (for a test that kills it); ``args``:
    more options of ``ledger serve``."""
    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [ledger_cli(), "serve", "--port", str(port), *args], env=env, stdout=log, stderr=log
        )
        try:
            url = f"http://127.0.0.1:{port}"

            def ready() -> bool:
                try:
                    return HTTP.get(url + "/readyz").status_code == 200
                except httpx.TransportError:
                    assert proc.poll() is None, log_path.read_text()
                    return False

            wait_until(ready, timeout=START_TIMEOUT, interval=0.1)
            yield url, proc
        except BaseException:
            _stop(proc)  # the test's own failure is the one to see
            raise
        else:
            assert _stop(proc), f"ledger serve did not stop within {WAIT_SECONDS:g} s of SIGTERM"


def _stop(proc: subprocess.Popen[bytes]) -> bool:
    """Stop the server: SIGTERM, then SIGKILL if it has not gone in time (no process is
    left behind); False if it needed the SIGKILL."""
    proc.terminate()
    try:
        proc.wait(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
    return True


@pytest.fixture(scope="module")
def serve_env() -> dict[str, str]:
    """Settings of the ``served`` server beyond the data dir (a test module may override)."""
    return {}


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, serve_env: dict[str, str], deployed_template: Path
) -> Iterator[tuple[str, Path, dict[str, object]]]:
    """One server per test module: its tests each add keys of their own names."""
    tmp_path = tmp_path_factory.mktemp("served")
    data_dir = copy_deployment(deployed_template, tmp_path / "data")  # what `ledger deploy` leaves
    portfolio = tmp_path / "p.csv"
    write_csv(synthetic_rows(30, seed=11), portfolio)
    submitted = _ledger(data_dir, "submit", str(portfolio), "--json")
    assert submitted.returncode == 0, submitted.stderr
    with serving(_env(data_dir) | serve_env, tmp_path / "serve.log") as url:
        yield url, data_dir, json.loads(submitted.stdout)


def test_a_partner_verifies_over_http_while_the_cli_is_told_to_use_the_api(
    served: tuple[str, Path, dict[str, object]],
) -> None:
    url, data_dir, _report = served
    added = _ledger(data_dir, "partner", "add", "bank-a", "--role", "partner",
                    "--institution", "91110000100000000A", "--json")  # fmt: skip
    assert added.returncode == 0, added.stderr
    key = json.loads(added.stdout)["key"]
    listed = _ledger(data_dir, "partner", "list", "--json")
    assert key not in listed.stdout

    from ledger.store import Store
    from tests._leaves import all_leaves

    store = Store.open(data_dir)
    with store.session() as s:
        leaf = all_leaves(s)[0]
        leaf_hash = "0x" + leaf.leaf_hash.hex()
    store.close()
    headers = {"Authorization": f"Bearer {key}"}
    body = {"leaf_hashes": [leaf_hash]}
    answer = HTTP.post(url + "/v1/verify", json=body, headers=headers, timeout=HTTP_TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] == "anchored"
    assert HTTP.post(url + "/v1/verify", json=body, timeout=HTTP_TIMEOUT).status_code == 401

    held = _ledger(data_dir, "deploy")
    assert held.returncode == 1
    assert "in use by ledger serve" in held.stderr
    assert "API" in held.stderr


def test_a_key_revoked_with_the_cli_stops_working_at_once(
    served: tuple[str, Path, dict[str, object]],
) -> None:
    url, data_dir, _report = served
    added = _ledger(data_dir, "partner", "add", "bank-b", "--role", "auditor", "--json")
    assert added.returncode == 0, added.stderr
    headers = {"Authorization": f"Bearer {json.loads(added.stdout)['key']}"}
    body = {"leaf_hashes": ["0x" + "00" * 32]}
    answer = HTTP.post(url + "/v1/verify", json=body, headers=headers, timeout=HTTP_TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert _ledger(data_dir, "partner", "revoke", "bank-b").returncode == 0

    def refused() -> httpx.Response | None:
        answer = HTTP.post(url + "/v1/verify", json=body, headers=headers, timeout=HTTP_TIMEOUT)
        return None if answer.status_code == 200 else answer

    # The server remembers a verified key for at most ApiSettings.key_cache_seconds.
    assert ApiSettings().key_cache_seconds < WAIT_SECONDS
    answer = wait_until(refused, interval=0.05)
    assert answer.status_code == 401, answer.text
