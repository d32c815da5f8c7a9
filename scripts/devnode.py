"""Start and stop the pinned anvil for local development (``make anvil``, ``make anvil-stop``).

    python3 scripts/devnode.py start --port 8545 --dir .anvil   # background; returns when ready
    python3 scripts/devnode.py stop --port 8545 --dir .anvil

The binary is the one ``npm ci`` installed from ``@foundry-rs/anvil`` (package.json pins the
version), never one from PATH, so everyone runs the node the tests run. ``start`` listens on
loopback only, returns once the node answers ``eth_chainId`` and leaves ``<port>.pid`` and
``<port>.log`` in ``--dir``; ``stop`` ends that node. Standard library only: the tests start
their own nodes with the same functions (tests/conftest.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
#: Generous: anvil starts in well under a second, but the machines it runs on are shared.
START_TIMEOUT = 30.0
#: How long a stopped node may take to close its port before it is killed.
STOP_TIMEOUT = 10.0
POLL = 0.05


class DevNodeError(Exception):
    """The node could not be started or stopped; the message is the one line shown."""


def anvil_binary() -> Path:
    """The platform binary the npm package ships (its JS wrapper only re-spawns it)."""
    found = sorted(REPO_ROOT.glob("node_modules/@foundry-rs/anvil-*/bin/anvil"))
    if found:
        return found[0]
    wrapper = REPO_ROOT / "node_modules" / ".bin" / "anvil"
    if wrapper.exists():
        return wrapper
    raise DevNodeError("anvil is not installed: run `make setup` (npm ci)")


def url_for(port: int) -> str:
    return f"http://{HOST}:{port}"


def rpc(url: str, method: str, params: list[object], *, timeout: float = 5.0) -> object:
    """One JSON-RPC call; the node's ``result`` (``RuntimeError`` for an ``error``)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    headers = {"Content-Type": "application/json"}
    req = urllib.request.Request(url, body, headers)  # noqa: S310 - http to a loopback node
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        answer = json.loads(resp.read())
    if "error" in answer:
        raise RuntimeError(answer["error"])
    return answer["result"]


def answering(url: str) -> str | None:
    """The client version of the node at ``url``, or ``None`` when nothing answers there."""
    try:
        return str(rpc(url, "web3_clientVersion", [], timeout=2.0))
    except (OSError, ValueError, RuntimeError):
        return None


def spawn(port: int, log: IO[bytes], *, detach: bool = False) -> subprocess.Popen[bytes]:
    """Run anvil on loopback ``port``, its output to ``log``.

    ``detach``: in its own session, so that it outlives the command that started it.
    """
    return subprocess.Popen(
        [str(anvil_binary()), "--host", HOST, "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=detach,
    )


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float = START_TIMEOUT) -> None:
    """Poll ``eth_chainId`` until the node answers; fail if it exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DevNodeError(f"anvil exited with {proc.returncode}")
        try:
            rpc(url, "eth_chainId", [])
            return
        except OSError:
            time.sleep(POLL)
    raise DevNodeError(f"anvil did not answer on {url} within {timeout:g}s")


def _files(state_dir: Path, port: int) -> tuple[Path, Path]:
    return state_dir / f"{port}.pid", state_dir / f"{port}.log"


def start(port: int, state_dir: Path) -> str:
    """Start anvil in the background on ``port`` (or find ours already there); a status line."""
    url = url_for(port)
    pid_file, log_file = _files(state_dir, port)
    running = answering(url)
    if running and pid_file.exists():
        return f"anvil already running on {url} ({running}, pid {pid_file.read_text().strip()})"
    if running:
        raise DevNodeError(
            f"{HOST}:{port} is already in use by {running}: stop it, "
            "or choose another port with ANVIL_PORT=N"
        )
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(log_file, "wb") as log:
        proc = spawn(port, log, detach=True)
    try:
        wait_ready(proc, url)
    except DevNodeError as exc:
        proc.kill()
        said = log_file.read_text(errors="replace").strip().splitlines()[-1:]
        raise DevNodeError(f"{exc}: {''.join(said) or 'no output'} (see {log_file})") from None
    pid_file.write_text(f"{proc.pid}\n")
    return f"{answering(url)} on {url} (pid {proc.pid}, log {log_file})"


def _gone(pid: int, url: str) -> bool:
    """Whether the node has ended: its process is gone, or at least its port is closed."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return answering(url) is None


def stop(port: int, state_dir: Path) -> str:
    """Stop the anvil that ``start`` left on ``port``; a status line."""
    url = url_for(port)
    pid_file, _ = _files(state_dir, port)
    if not pid_file.exists():
        return f"no anvil started by `make anvil` on {url}"
    pid = int(pid_file.read_text())
    if answering(url) is not None:  # ours still serves there: the pid is not a reused one
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while not _gone(pid, url):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(POLL)
    pid_file.unlink()
    return f"anvil on {url} stopped"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--port", type=int, default=8545, help="loopback port (default 8545)")
    parser.add_argument("--dir", type=Path, default=Path(".anvil"), help="pid and log files")
    args = parser.parse_args(argv)
    try:
        print((start if args.action == "start" else stop)(args.port, args.dir))
    except DevNodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
