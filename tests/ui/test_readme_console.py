"""The README's "Web console" commands, run as written (the port made a free one)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import httpx

from tests.conftest import COMMAND_TIMEOUT, WAIT_SECONDS, free_port, ledger_cli, wait_until
from tests.e2e.test_serve import _env, _ledger

REPO = Path(__file__).resolve().parents[2]
KEY = re.compile(r"ca_[A-Za-z0-9_-]{43}")


def console_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Web console", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [shlex.split(line.split("#", 1)[0]) for line in block.splitlines() if line.strip()]


def test_the_documented_console_commands_serve_a_console_one_can_sign_in_to(
    tmp_path: Path,
) -> None:
    add, serve = console_commands()
    assert add[0] == serve[0] == ".venv/bin/ledger"
    data_dir = tmp_path / "data"
    assert _ledger(data_dir, "deploy").returncode == 0
    done = subprocess.run(
        [ledger_cli(), *add[1:]],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    key = KEY.search(done.stdout)
    assert key, done.stdout
    port = free_port()
    args = [str(port) if arg == "8000" else arg for arg in serve[1:]]
    assert str(port) in args
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen([ledger_cli(), *args], env=_env(data_dir), stdout=log, stderr=log)
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, timeout=WAIT_SECONDS) as client:

                def ready() -> bool:  # one client: a bare httpx.get costs ~50 ms of CPU
                    assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                    try:
                        return client.get("/readyz").status_code == 200
                    except httpx.TransportError:
                        return False

                wait_until(ready, timeout=120, interval=0.1)
                signed = client.post(
                    "/ui/login", data={"key": key.group(0)}, headers={"Origin": url}
                )
                assert signed.status_code == 303
                assert signed.headers["location"] == "/ui/auditor"
                page = client.get("/ui/auditor")
                assert page.status_code == 200 and "auditor-1" in page.text
        finally:
            proc.terminate()
            proc.wait(timeout=WAIT_SECONDS)
